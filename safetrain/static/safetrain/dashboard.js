/* Regulator statistics (REG-01): the charts of the dashboard, drawn with ECharts from the page's JSON data.
   Every axis and pie keeps its labels inside the chart (containLabel, outside pie labels with room), and a click on
   a region's bar opens that region's figures, as its row does. */
(function () {
  "use strict";
  var holder = document.getElementById("chart-data");
  if (!holder || !window.echarts) { return; }
  var data = JSON.parse(holder.textContent);
  function draw(name, option) {
    var node = document.querySelector('[data-chart="' + name + '"]');
    if (!node) { return null; }
    var chart = window.echarts.init(node);
    chart.setOption(option);
    window.addEventListener("resize", function () { chart.resize(); });
    node.setAttribute("data-drawn", "true");
    return chart;
  }
  draw("months", {
    tooltip: { trigger: "axis" }, grid: { left: 8, right: 16, top: 16, bottom: 8, containLabel: true },
    xAxis: { type: "category", data: data.months }, yAxis: { type: "value", minInterval: 1 },
    series: [{ type: "bar", data: data.enrolments }]
  });
  draw("industries", {
    tooltip: { trigger: "axis" }, grid: { left: 8, right: 16, top: 16, bottom: 8, containLabel: true },
    xAxis: { type: "category", data: data.industries.map(function (d) { return d.name; }),
             axisLabel: { rotate: 30, interval: 0 } },
    yAxis: { type: "value", minInterval: 1 },
    series: [{ type: "bar", data: data.industries.map(function (d) { return d.value; }) }]
  });
  // Age bands as horizontal bars: the band names sit on the y axis, which containLabel keeps whole.
  draw("ages", {
    tooltip: { trigger: "axis" }, grid: { left: 8, right: 32, top: 8, bottom: 8, containLabel: true },
    xAxis: { type: "value", minInterval: 1 },
    yAxis: { type: "category", inverse: true, data: data.ages.map(function (d) { return d.name; }),
             axisLabel: { interval: 0 } },
    series: [{ type: "bar", data: data.ages.map(function (d) { return d.value; }),
               label: { show: true, position: "right" } }]
  });
  // Sex: each slice labelled with its name and count (男：3), legend below, nothing cut at the edges.
  draw("sexes", {
    tooltip: { trigger: "item" },
    legend: { bottom: 0 },
    series: [{ type: "pie", radius: ["30%", "55%"], center: ["50%", "45%"], data: data.sexes,
               label: { show: true, formatter: "{b}" }, labelLine: { show: true } }]
  });
  var regionNode = document.querySelector('[data-chart="regions"]');
  if (regionNode) {
    if (!data.regions.length) { regionNode.hidden = true; }
    regionNode.style.height = Math.max(120, 36 * data.regions.length + 24) + "px";
  }
  var regions = !data.regions.length ? null : draw("regions", {
    tooltip: { trigger: "axis" }, grid: { left: 8, right: 32, top: 8, bottom: 8, containLabel: true },
    xAxis: { type: "value", minInterval: 1 },
    yAxis: { type: "category", inverse: true, data: data.regions.map(function (d) { return d.name; }),
             axisLabel: { interval: 0, width: 120, overflow: "break" }, triggerEvent: true },
    series: [{ type: "bar", data: data.regions.map(function (d) { return d.value; }), cursor: "pointer",
               label: { show: true, position: "right" } }]
  });
  if (regions) {
    regions.on("click", function (event) {
      var row = event.componentType === "yAxis"
        ? data.regions.filter(function (d) { return d.name === event.value; })[0]
        : data.regions[event.dataIndex];
      if (row && row.url) { window.location.href = row.url; }
    });
  }
})();
