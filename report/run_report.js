(function () {
  'use strict';
  var NS = 'http://www.w3.org/2000/svg';
  var COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf'];
  var W = 560, H = 260, LEFT = 58, RIGHT = 14, TOP = 12, BOTTOM = 34;
  var PW = W - LEFT - RIGHT, PH = H - TOP - BOTTOM;
  var data = JSON.parse(document.getElementById('run-data').textContent);

  function node(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    parent.appendChild(e);
    return e;
  }
  function label(parent, x, y, s, anchor) {
    var t = node('text', {x: x, y: y, 'text-anchor': anchor || 'start'}, parent);
    t.textContent = s;
    return t;
  }
  function fmt(v) {
    var a = Math.abs(v);
    if (v === 0) return '0';
    if (a >= 1e5 || a < 1e-3) return v.toExponential(1);
    return String(parseFloat(v.toPrecision(3)));
  }
  // `unmap` turns an axis coordinate back into the value its label shows.
  function yAxis(svg, y0, y1, unmap) {
    node('line', {x1: LEFT, y1: TOP, x2: LEFT, y2: TOP + PH, 'class': 'axis'}, svg);
    node('line', {x1: LEFT, y1: TOP + PH, x2: LEFT + PW, y2: TOP + PH, 'class': 'axis'}, svg);
    for (var i = 0; i <= 4; i++) {
      var y = TOP + PH - PH * i / 4;
      if (i > 0) node('line', {x1: LEFT + 1, y1: y, x2: LEFT + PW, y2: y, 'class': 'grid'}, svg);
      label(svg, LEFT - 5, y + 3, fmt(unmap(y0 + (y1 - y0) * i / 4)), 'end');
    }
  }
  function legend(fig, names) {
    var div = document.createElement('div');
    div.className = 'legend';
    names.forEach(function (name, i) {
      var span = document.createElement('span');
      var swatch = document.createElement('i');
      swatch.style.background = COLORS[i % COLORS.length];
      span.appendChild(swatch);
      span.appendChild(document.createTextNode(name));
      div.appendChild(span);
    });
    fig.appendChild(div);
  }

  function drawLines(fig, svg, spec) {
    var series = spec.series.filter(function (s) { return s.points.length > 0; });
    // Loss falls by orders of magnitude; on a linear axis everything after the
    // first few steps is a flat line. Log only when every value allows it.
    var log = spec.y_scale === 'log' && series.every(function (s) {
      return s.points.every(function (p) { return p[1] > 0; });
    });
    function ty(y) { return log ? Math.log10(y) : y; }
    var x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity, n = 0;
    series.forEach(function (s) {
      s.points.forEach(function (p) {
        x0 = Math.min(x0, p[0]); x1 = Math.max(x1, p[0]);
        y0 = Math.min(y0, ty(p[1])); y1 = Math.max(y1, ty(p[1]));
        n++;
      });
    });
    if (n === 0) return 0;
    if (x0 === x1) { x0 -= 1; x1 += 1; }
    var pad = y1 > y0 ? (y1 - y0) * 0.05 : (Math.abs(y0) * 0.05 || 1);
    y0 -= pad; y1 += pad;
    yAxis(svg, y0, y1, function (v) { return log ? Math.pow(10, v) : v; });
    if (log) label(svg, LEFT + 4, TOP + 10, 'log scale');
    for (var i = 0; i <= 4; i++) {
      label(svg, LEFT + PW * i / 4, TOP + PH + 13, fmt(Math.round(x0 + (x1 - x0) * i / 4)), 'middle');
    }
    label(svg, LEFT + PW / 2, H - 4, spec.x_label, 'middle');
    function sx(x) { return (LEFT + (x - x0) / (x1 - x0) * PW).toFixed(1); }
    function sy(y) { return (TOP + PH - (ty(y) - y0) / (y1 - y0) * PH).toFixed(1); }
    series.forEach(function (s, i) {
      var color = COLORS[i % COLORS.length];
      if (s.points.length > 1) {
        var pts = s.points.map(function (p) { return sx(p[0]) + ',' + sy(p[1]); }).join(' ');
        node('polyline', {points: pts, fill: 'none', stroke: color, 'stroke-width': 1.5}, svg);
      }
      // Sparse series (eval every N steps, a single point) need markers to be seen.
      if (s.points.length <= 60) {
        s.points.forEach(function (p) {
          var c = node('circle', {cx: sx(p[0]), cy: sy(p[1]), r: 2.5, fill: color}, svg);
          node('title', {}, c).textContent = s.name + ' at step ' + p[0] + ': ' + fmt(p[1]);
        });
      }
    });
    legend(fig, series.map(function (s) { return s.name; }));
    return n;
  }

  function drawBars(fig, svg, spec) {
    var top = 1;  // accuracies: the axis always shows 0..1
    spec.series.forEach(function (s) {
      s.values.forEach(function (v) { if (v !== null && v > top) top = v; });
    });
    yAxis(svg, 0, top, function (v) { return v; });
    var groups = spec.categories.length, group = PW / groups;
    var bar = group * 0.8 / spec.series.length, n = 0;
    spec.series.forEach(function (s, j) {
      s.values.forEach(function (v, i) {
        if (v === null) return;
        var h = Math.max(0, v) / top * PH, x = LEFT + i * group + group * 0.1 + j * bar;
        var r = node('rect', {x: x.toFixed(1), y: (TOP + PH - h).toFixed(1), width: Math.max(1, bar - 2).toFixed(1),
                              height: h.toFixed(1), fill: COLORS[j % COLORS.length]}, svg);
        node('title', {}, r).textContent = s.name + ', ' + spec.categories[i] + ': ' + fmt(v);
        label(svg, x + bar / 2, TOP + PH - h - 3, v.toFixed(2), 'middle');
        n++;
      });
    });
    spec.categories.forEach(function (c, i) { label(svg, LEFT + (i + 0.5) * group, TOP + PH + 13, c, 'middle'); });
    legend(fig, spec.series.map(function (s) { return s.name; }));
    return n;
  }

  var rendered = 0;
  Array.prototype.forEach.call(document.querySelectorAll('figure.plot'), function (fig) {
    try {
      var spec = data.plots[fig.dataset.plot];
      if (!spec) throw new Error('no data for ' + fig.dataset.plot);
      var svg = fig.querySelector('svg');
      var n = spec.kind === 'bars' ? drawBars(fig, svg, spec) : drawLines(fig, svg, spec);
      fig.dataset.points = n;
      if (n > 0) {
        fig.dataset.rendered = 'true';
        rendered++;
      }
    } catch (e) {
      // One broken plot must not stop the others; the test reads data-error.
      fig.dataset.error = String(e);
    }
  });
  document.body.dataset.plotsRendered = rendered;
})();
