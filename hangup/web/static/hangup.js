// hangup dashboard: draws the overview's time series with uPlot and filters the code reference as you type.
(function () {
  "use strict";

  function fmt(unit, v) {
    if (v == null) return "N/A";
    if (unit === "ratio") return (v * 100).toFixed(1) + " %";
    return Math.round(v).toLocaleString("en-US");
  }

  function tick(unit, v) {
    if (unit === "ratio") return Math.round(v * 100) + "%";
    return v >= 1000 ? (v / 1000).toFixed(v >= 10000 ? 0 : 1) + "k" : String(v);
  }

  function draw(el, series) {
    var xs = series.points.map(function (p) { return p.t; });
    var ys = series.points.map(function (p) { return p.value; });
    var ratio = series.unit === "ratio";
    var opts = {
      width: el.clientWidth || 520,
      height: 220,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: ratio ? { range: [0, 1] } : { auto: true } },
      axes: [
        { stroke: "#6b7385", grid: { stroke: "#eef1f6" } },
        { stroke: "#6b7385", grid: { stroke: "#eef1f6" }, size: 56,
          values: function (u, vals) { return vals.map(function (v) { return tick(series.unit, v); }); } },
      ],
      series: [
        { value: "{YYYY}-{MM}-{DD} {HH}:{mm} UTC" },
        ratio
          ? { label: series.label, stroke: "#2458d6", width: 2, spanGaps: false,
              value: function (u, v) { return fmt(series.unit, v); } }
          : { label: series.label, stroke: "#2458d6", fill: "rgba(36,88,214,0.15)", width: 1,
              paths: uPlot.paths.bars({ size: [0.8, 40] }), value: function (u, v) { return fmt(series.unit, v); } },
      ],
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); },
    };
    var chart = new uPlot(opts, [xs, ys], el);
    el.dataset.drawn = String(xs.length);
    window.addEventListener("resize", function () { chart.setSize({ width: el.clientWidth, height: 220 }); });
  }

  function charts() {
    var data = document.getElementById("series-data");
    if (!data || typeof uPlot === "undefined") return;
    var series = JSON.parse(data.textContent);
    document.querySelectorAll(".chart[data-series]").forEach(function (el) {
      var s = series[el.dataset.series];
      if (s) draw(el, s);
    });
  }

  function codeFilter() {
    var input = document.getElementById("code-q");
    var table = document.getElementById("codes");
    if (!input || !table) return;
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    var count = document.getElementById("code-count");
    input.addEventListener("input", function () {
      var q = input.value.trim().toLowerCase();
      var shown = 0;
      rows.forEach(function (row) {
        var hit = !q || row.textContent.toLowerCase().indexOf(q) >= 0;
        row.hidden = !hit;
        if (hit) shown += 1;
      });
      if (count) count.textContent = String(shown);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { charts(); codeFilter(); });
})();
