// Per policy: each judged cohort's difference (treated - held out, percentage points) with its 95%
// interval, benefit and harm side by side (data rendered by the server into #experiment-intervals).
(function () {
  "use strict";
  var source = document.getElementById("experiment-intervals");
  if (!source || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var colours = { benefit: "#1b7f3b", harm: "#b23a48" };
  document.querySelectorAll("canvas.interval-chart-canvas").forEach(function (canvas) {
    var points = data[canvas.getAttribute("data-policy")] || [];
    var cohorts = [];
    points.forEach(function (p) { if (cohorts.indexOf(p.cohort) < 0) { cohorts.push(p.cohort); } });
    var datasets = [];
    ["benefit", "harm"].forEach(function (kind) {
      var byCohort = {};
      points.forEach(function (p) { if (p.metric === kind) { byCohort[p.cohort] = p; } });
      datasets.push({
        type: "bar", label: kind === "benefit" ? "benefit: 95% interval" : "harm: 95% interval",
        data: cohorts.map(function (c) { return byCohort[c] ? [byCohort[c].low, byCohort[c].high] : null; }),
        backgroundColor: colours[kind] + "55", borderColor: colours[kind], borderWidth: 1
      });
      datasets.push({
        type: "line", label: kind === "benefit" ? "benefit: difference" : "harm: difference", showLine: false,
        data: cohorts.map(function (c) { return byCohort[c] ? byCohort[c].diff : null; }),
        borderColor: colours[kind], backgroundColor: colours[kind], pointRadius: 4
      });
    });
    new Chart(canvas, {
      data: { labels: cohorts, datasets: datasets },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        scales: { y: { title: { display: true, text: "points (treated - held out)" } } },
        plugins: { legend: { position: "bottom" } }
      }
    });
  });
})();
