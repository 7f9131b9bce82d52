// chart.js: a small line chart on <canvas>, hand-written so the dashboard
// needs no npm. drawChart(canvas, series, opts)
//   series: [{label, color, dash, points: [[unixMs, value|null], ...]}]
//   opts:   {from, to (unix ms), unit, min (default 0)}
// A null value breaks the line: no data is drawn as no data, never as zero.
"use strict";

function drawChart(canvas, series, opts) {
  const dpr = window.devicePixelRatio || 1;
  const cssW = canvas.clientWidth || 400, cssH = canvas.clientHeight || 160;
  if (canvas.width !== Math.round(cssW * dpr) || canvas.height !== Math.round(cssH * dpr)) {
    canvas.width = Math.round(cssW * dpr);
    canvas.height = Math.round(cssH * dpr);
  }
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, cssW, cssH);
  g.font = "11px system-ui, sans-serif";

  const pad = {l: 44, r: 8, t: 8, b: 30};
  const w = cssW - pad.l - pad.r, h = cssH - pad.t - pad.b;
  const from = opts.from, to = Math.max(opts.to, opts.from + 1000);
  let ymax = 0, any = false;
  for (const s of series) {
    for (const [t, v] of s.points) {
      if (v != null && t >= from) { ymax = Math.max(ymax, v); any = true; }
    }
  }
  ymax = niceCeil(ymax || 1);
  const ymin = opts.min || 0;
  const x = t => pad.l + (t - from) / (to - from) * w;
  const y = v => pad.t + h - (v - ymin) / (ymax - ymin) * h;

  // Grid and y labels.
  g.strokeStyle = "#e3e3e3"; g.fillStyle = "#666"; g.lineWidth = 1;
  g.textAlign = "right"; g.textBaseline = "middle";
  for (let i = 0; i <= 4; i++) {
    const v = ymin + (ymax - ymin) * i / 4, yy = Math.round(y(v)) + 0.5;
    g.beginPath(); g.moveTo(pad.l, yy); g.lineTo(pad.l + w, yy); g.stroke();
    g.fillText(fmtNum(v), pad.l - 4, yy);
  }
  // Time labels at both ends and the middle.
  g.textAlign = "center"; g.textBaseline = "top";
  for (const t of [from, (from + to) / 2, to]) {
    g.fillText(new Date(t).toLocaleTimeString([], {hour12: false}), Math.min(Math.max(x(t), pad.l + 24), pad.l + w - 24), pad.t + h + 4);
  }
  if (!any) {
    g.textAlign = "center"; g.textBaseline = "middle"; g.fillStyle = "#999";
    g.fillText("no data yet", pad.l + w / 2, pad.t + h / 2);
  }

  // Lines.
  for (const s of series) {
    g.strokeStyle = s.color; g.lineWidth = 1.5; g.setLineDash(s.dash ? [4, 3] : []);
    g.beginPath();
    let pen = false;
    for (const [t, v] of s.points) {
      if (t < from) continue;
      if (v == null) { pen = false; continue; }
      if (pen) g.lineTo(x(t), y(v)); else g.moveTo(x(t), y(v));
      pen = true;
    }
    g.stroke();
  }
  g.setLineDash([]);

  // Legend along the bottom.
  g.textAlign = "left"; g.textBaseline = "alphabetic";
  let lx = pad.l;
  for (const s of series) {
    if (s.legend === false) continue;
    g.fillStyle = s.color; g.fillRect(lx, cssH - 9, 10, 3);
    g.fillStyle = "#333"; g.fillText(s.label, lx + 13, cssH - 4);
    lx += 18 + g.measureText(s.label).width;
  }
}

// niceCeil rounds up to 1, 2 or 5 times a power of ten, for round grid lines.
function niceCeil(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function fmtNum(v) {
  if (v === 0) return "0";
  if (Math.abs(v) >= 1000) return (v / 1000).toFixed(1).replace(/\.0$/, "") + "k";
  if (Math.abs(v) < 1) return v.toPrecision(2);
  return String(Math.round(v * 10) / 10);
}
