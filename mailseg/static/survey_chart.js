// A survey per quarter: stacked answer counts, and NPS / CSI lines for 0-10 surveys (data in #survey-series);
// for 0-10 surveys also one NPS line per engagement class (#survey-class-chart).
(function () {
  "use strict";
  var source = document.getElementById("survey-series");
  var canvas = document.getElementById("survey-chart");
  if (!source || !canvas || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var datasets = [];
  if (data.nps.length) {
    datasets.push({ type: "line", label: data.nps_label, data: data.nps, borderColor: "#1f5fbf", yAxisID: "score" });
    datasets.push({ type: "line", label: data.csi_label, data: data.csi, borderColor: "#b23a48", yAxisID: "ratio" });
  } else {
    Object.keys(data.answers).forEach(function (answer, i) {
      datasets.push({ type: "bar", label: answer, data: data.answers[answer], stack: "answers",
                      backgroundColor: ["#1f5fbf", "#6bb26b", "#c9822b", "#9b5de5", "#b23a48"][i % 5] });
    });
  }
  var scales = data.nps.length
    ? { score: { position: "left", min: -100, max: 100 }, ratio: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false } } }
    : { y: { stacked: true, beginAtZero: true }, x: { stacked: true } };
  new Chart(canvas, { data: { labels: data.labels, datasets: datasets },
    options: { responsive: true, maintainAspectRatio: false, animation: false, scales: scales,
               plugins: { legend: { position: "bottom" } } } });
  var byClass = document.getElementById("survey-class-chart");
  var classes = Object.keys(data.nps_by_class || {});
  if (byClass && classes.length) {
    var colours = ["#1f5fbf", "#6bb26b", "#c9822b", "#9b5de5", "#b23a48", "#555555"];
    new Chart(byClass, { type: "line",
      data: { labels: data.labels, datasets: classes.map(function (name, i) {
        return { label: name, data: data.nps_by_class[name], borderColor: colours[i % colours.length], spanGaps: true };
      }) },
      options: { responsive: true, maintainAspectRatio: false, animation: false,
                 scales: { y: { min: -100, max: 100 } }, plugins: { legend: { position: "bottom" } } } });
  }
})();
