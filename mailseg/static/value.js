// The Value page's charts: the ABC Pareto curve and the CLV histogram (data in JSON blocks).
(function () {
  "use strict";
  if (typeof Chart === "undefined") { return; }
  function data(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }
  var pareto = data("pareto-data");
  var paretoCanvas = document.getElementById("pareto-chart");
  if (pareto && paretoCanvas) {
    var points = pareto.customers.map(function (x, i) { return { x: x * 100, y: pareto.revenue[i] * 100 }; });
    new Chart(paretoCanvas, {
      type: "line",
      data: { datasets: [{ label: paretoCanvas.getAttribute("aria-label"), data: points, borderColor: "#1b7f3b",
                           backgroundColor: "#1b7f3b33", fill: true, pointRadius: 0, tension: 0.1 }] },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false, parsing: false,
        scales: { x: { type: "linear", min: 0, max: 100, title: { display: true, text: "% customers" } },
                  y: { min: 0, max: 100, title: { display: true, text: "% revenue" } } },
        plugins: { legend: { display: false } }
      }
    });
  }
  var histogram = data("clv-data");
  var clvCanvas = document.getElementById("clv-chart");
  if (histogram && clvCanvas) {
    new Chart(clvCanvas, {
      type: "bar",
      data: { labels: histogram.labels, datasets: [{ label: "customers", data: histogram.counts, backgroundColor: "#3a78c2" }] },
      options: { responsive: true, maintainAspectRatio: false, animation: false,
                 scales: { y: { beginAtZero: true } }, plugins: { legend: { display: false } } }
    });
  }
})();
