// A segment's size over time (step chart; data rendered by the server into #size-series).
(function () {
  "use strict";
  var source = document.getElementById("size-series");
  var canvas = document.getElementById("size-chart");
  if (!source || !canvas || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  new Chart(canvas, {
    type: "line",
    data: { labels: data.labels, datasets: [{ label: data.label, data: data.members, stepped: true,
      borderColor: "#1f5fbf", backgroundColor: "#1f5fbf33", fill: true, pointRadius: 2 }] },
    options: { responsive: true, maintainAspectRatio: false, animation: false,
      scales: { y: { beginAtZero: true } }, plugins: { legend: { display: false } } }
  });
})();
