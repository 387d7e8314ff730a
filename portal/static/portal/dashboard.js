// Draws the dashboard's charts from the JSON that the page carries in
// <script type="application/json" id="dashboard-charts"> (json_script): no
// inline script, so the strict Content-Security-Policy holds.
(function () {
  "use strict";
  var source = document.getElementById("dashboard-charts");
  if (!source || typeof window.Chart === "undefined") {
    return;
  }
  var charts = JSON.parse(source.textContent);
  var palette = ["#0b4f6c", "#b3261e", "#2e7d32", "#8e5b00", "#5e35b1", "#00838f", "#6d4c41", "#455a64"];
  // Charts are drawn once, fully: a screenshot taken after load shows them.
  window.Chart.defaults.animation = false;
  window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;

  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var spec = charts[Number(canvas.dataset.chart)];
    if (!spec) {
      return;
    }
    var round = spec.type === "doughnut";
    new window.Chart(canvas, {
      type: spec.type,
      data: {
        labels: spec.labels,
        datasets: [{
          label: spec.title,
          data: spec.data,
          borderColor: round ? "#fff" : palette[0],
          backgroundColor: round ? palette.slice(0, spec.data.length) : palette[0],
          tension: 0.2,
        }],
      },
      options: {
        maintainAspectRatio: false,
        plugins: { legend: { display: round, position: "bottom" } },
        scales: round ? {} : { y: { beginAtZero: true, ticks: { precision: 0 } } },
      },
    });
    canvas.dataset.chartDrawn = "true";
  });
})();
