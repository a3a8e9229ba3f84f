/* Regulator statistics (REG-01): the charts of the dashboard, drawn with ECharts from the page's JSON data. */
(function () {
  "use strict";
  var holder = document.getElementById("chart-data");
  if (!holder || !window.echarts) { return; }
  var data = JSON.parse(holder.textContent);
  function draw(name, option) {
    var node = document.querySelector('[data-chart="' + name + '"]');
    if (!node) { return; }
    var chart = window.echarts.init(node);
    chart.setOption(option);
    window.addEventListener("resize", function () { chart.resize(); });
    node.setAttribute("data-drawn", "true");
  }
  draw("months", {
    tooltip: { trigger: "axis" }, grid: { left: 40, right: 16, top: 16, bottom: 32 },
    xAxis: { type: "category", data: data.months }, yAxis: { type: "value", minInterval: 1 },
    series: [{ type: "bar", data: data.enrolments }]
  });
  draw("industries", {
    tooltip: { trigger: "axis" }, grid: { left: 40, right: 16, top: 16, bottom: 60 },
    xAxis: { type: "category", data: data.industries.map(function (d) { return d.name; }), axisLabel: { rotate: 30 } },
    yAxis: { type: "value", minInterval: 1 },
    series: [{ type: "bar", data: data.industries.map(function (d) { return d.value; }) }]
  });
  ["ages", "sexes"].forEach(function (name) {
    draw(name, { tooltip: { trigger: "item" }, series: [{ type: "pie", radius: ["35%", "65%"], data: data[name] }] });
  });
})();
