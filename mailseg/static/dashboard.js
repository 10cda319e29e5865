// Stacked area chart of class sizes over time (data rendered by the server into #class-series).
(function () {
  "use strict";
  var source = document.getElementById("class-series");
  var canvas = document.getElementById("class-chart");
  if (!source || !canvas || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var colours = {
    active: "#1b7f3b", semi_active: "#6bb26b", "new": "#3a78c2", inactive: "#c9822b",
    pending: "#8a8fa0", unsubscribed: "#9b5de5", cleaned: "#b23a48", complained: "#5f0f40"
  };
  // data.order is the class order (JSON objects arrive with their keys sorted alphabetically).
  var datasets = (data.order || Object.keys(data.datasets)).map(function (name) {
    var colour = colours[name] || "#777";
    return {
      label: (data.names && data.names[name]) || name.replace("_", "-"), data: data.datasets[name], fill: true,
      borderColor: colour, backgroundColor: colour + "99", pointRadius: 0, borderWidth: 1, tension: 0.2
    };
  });
  new Chart(canvas, {
    type: "line",
    data: { labels: data.labels, datasets: datasets },
    options: {
      responsive: true, maintainAspectRatio: false, animation: false,
      interaction: { mode: "index", intersect: false },
      scales: { y: { stacked: true, beginAtZero: true, title: { display: true, text: data.axis || "subscribers" } },
                x: { ticks: { maxTicksLimit: 8 } } },
      plugins: { legend: { position: "bottom" } }
    }
  });
})();
