"""The page's stylesheet and the row browser's script, inlined into every report."""

# ruff: noqa: E501

CSS = """\
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#263238;color:#fff;padding:12px 24px}header h1{margin:0;font-size:20px}
nav a{color:#b0bec5;margin-right:14px;text-decoration:none}nav a:hover{color:#fff}
main{padding:8px 24px;max-width:1300px}section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 16px;margin:14px 0}
h2{font-size:18px;margin:8px 0}h3{font-size:15px;margin:12px 0 4px}h4{margin:6px 0 2px;font-size:13px}
table{border-collapse:collapse;margin:6px 0;font-size:13px}th,td{border:1px solid #e0e0e0;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f1f3f4}td{max-width:520px;overflow-wrap:anywhere}.note{color:#666;font-size:12px}
.warn{color:#b71c1c;font-weight:600}.ok{color:#2e7d32}
pre{background:#f6f8fa;padding:6px;white-space:pre-wrap;overflow-wrap:anywhere;max-height:360px;overflow:auto;font-size:12px;margin:2px 0}
svg.chart{display:block;margin:6px 0;font:11px sans-serif}svg.chart a rect:hover{opacity:.75}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #e0e0e0;border-radius:4px;padding:4px 10px;width:320px;background:#fff}
.card p{margin:2px 0;font-size:12px}.card h3{overflow-wrap:anywhere}details{margin:4px 0}summary{cursor:pointer}details.reject:target{outline:2px solid #e15759}
.example{border-left:3px solid #e15759;padding-left:8px;margin:6px 0}
#rows tr.row{cursor:pointer}#rows tr.row:hover{background:#eef4fb}#rows td.id{font-family:monospace}
.controls input,.controls select{margin-right:8px;padding:3px}.prov{margin:4px 0}.parents{margin-left:18px;border-left:2px solid #4e79a7;padding-left:8px}
img.plot{max-width:100%;border:1px solid #eee}
"""

# fmt: off
BROWSER_JS = r"""
// The row browser: search and filter the sampled rows; a click shows provenance and parents.
// Everything from the data goes in through textContent, never innerHTML.
(function () {
  "use strict";
  // a link to a reject reason (a bar of the chart) opens its examples
  function openTarget() {
    var t = document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (t && t.tagName === "DETAILS") t.open = true;
  }
  window.addEventListener("hashchange", openTarget);
  openTarget();
  var source = document.getElementById("rows-data");
  if (!source) { document.body.setAttribute("data-ready", "1"); return; }
  var data = JSON.parse(source.textContent);
  var rows = data.rows, anc = data.ancestors, cols = data.columns;
  var q = document.getElementById("q"), colSel = document.getElementById("col");
  var originSel = document.getElementById("origin"), tbody = document.querySelector("#rows tbody");
  var count = document.getElementById("count");
  function text(v) {
    if (v === null || v === undefined) return "";
    return typeof v === "string" ? v : JSON.stringify(v);
  }
  function cut(t, n) { return t.length > n ? t.slice(0, n - 1) + "\u2026" : t; }
  function el(tag, cls, txt) {
    var x = document.createElement(tag);
    if (cls) x.className = cls;
    if (txt !== undefined) x.textContent = txt;
    return x;
  }
  function option(sel, value, label) {
    var o = el("option", "", label); o.value = value; sel.appendChild(o);
  }
  cols.forEach(function (c) { option(colSel, c, c); });
  var origins = {};
  rows.forEach(function (r) { origins[(r._meta || {}).origin || "?"] = 1; });
  Object.keys(origins).sort().forEach(function (o) { option(originSel, o, o); });
  var hay = rows.map(function (r) {
    var byCol = {};
    cols.forEach(function (c) { byCol[c] = text(r[c]).toLowerCase(); });
    byCol[""] = JSON.stringify(r).toLowerCase();
    return byCol;
  });
  function block(title, value) {
    var d = el("div", "prov");
    d.appendChild(el("h4", "", title));
    d.appendChild(el("pre", "", JSON.stringify(value, null, 1)));
    return d;
  }
  function parents(meta, depth, seen) {
    var box = el("div", "parents");
    ((meta || {}).parents || []).forEach(function (pid) {
      if (seen[pid]) return;
      seen[pid] = 1;
      var p = anc[pid];
      if (!p) { box.appendChild(el("p", "note", "parent " + pid + ": not among this run's files")); return; }
      var pm = p._meta || {}, rest = {};
      Object.keys(p).forEach(function (k) { if (k !== "_meta") rest[k] = p[k]; });
      box.appendChild(block("parent " + pid + " (stage " + (pm.stage || "?") + ")", rest));
      box.appendChild(block("its provenance", pm));
      if (depth < 8) box.appendChild(parents(pm, depth + 1, seen));
    });
    return box;
  }
  function toggle(tr, r) {
    var next = tr.nextSibling;
    if (next && next.className === "detail") { tbody.removeChild(next); return; }
    var d = el("tr", "detail"), td = el("td");
    td.colSpan = cols.length + 1;
    var rest = {};
    Object.keys(r).forEach(function (k) { if (k !== "_meta") rest[k] = r[k]; });
    td.appendChild(block("row", rest));
    td.appendChild(block("provenance (_meta)", r._meta || {}));
    td.appendChild(parents(r._meta, 0, {}));
    d.appendChild(td);
    tbody.insertBefore(d, tr.nextSibling);
  }
  function render() {
    tbody.textContent = "";
    var needle = q.value.toLowerCase(), col = colSel.value, origin = originSel.value, n = 0;
    rows.forEach(function (r, i) {
      if (needle && hay[i][col].indexOf(needle) < 0) return;
      if (origin && ((r._meta || {}).origin || "?") !== origin) return;
      var tr = el("tr", "row");
      tr.setAttribute("data-i", String(i));
      tr.appendChild(el("td", "id", (r._meta || {}).id || String(i)));
      cols.forEach(function (c) { tr.appendChild(el("td", "", cut(text(r[c]), 140))); });
      tr.addEventListener("click", function () { toggle(tr, r); });
      tbody.appendChild(tr);
      n += 1;
    });
    count.textContent = n + " of " + rows.length + " sampled rows (" + data.total + " in the run)";
  }
  [q, colSel, originSel].forEach(function (x) { x.addEventListener("input", render); });
  if (location.hash.indexOf("#q=") === 0) {  // a shareable search: report.html#q=words
    q.value = decodeURIComponent(location.hash.slice(3));
  }
  render();
  document.body.setAttribute("data-ready", "1");
})();
"""
# fmt: on
