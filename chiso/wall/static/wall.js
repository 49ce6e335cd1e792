/* chiso wall display: live public-service index for a control-room screen.
 *
 * Data arrive as server-sent events from /wall/events (one event per snapshot
 * part: meta, kpis, ranking, open, dossiers, trend, status; see chiso/wall/hub.py).
 * Every name that comes from events or the unit catalogue is set with
 * textContent, never as HTML.
 */
(function () {
  "use strict";

  var CONFIG = JSON.parse(document.getElementById("wall-config").textContent);
  var params = new URLSearchParams(window.location.search);
  var LANG = params.get("lang") === "en" ? "en" : "vi";
  var LOCALE = LANG === "en" ? "en-GB" : "vi-VN";
  var TZ = CONFIG.timezone || "Asia/Ho_Chi_Minh";
  var UNIT = params.has("unit") ? params.get("unit") : CONFIG.default_unit;
  var WINDOW = params.get("window") || CONFIG.window;
  var ROTATE_S = params.has("rotate") ? Math.max(0, Number(params.get("rotate")) || 0) : CONFIG.rotate_s;
  var TOP = Math.max(1, Math.min(50, Number(params.get("top")) || CONFIG.top));
  var START_VIEW = params.get("view");
  var GROUPS = Object.keys((CONFIG.vocabulary || {}).groups || {});
  var BANDS = CONFIG.bands; // [[limit, name], ...], highest first; below the last: weak

  var TEXT = {
    vi: {
      title: "Bộ chỉ số phục vụ người dân, doanh nghiệp",
      all_units: "Tất cả đơn vị",
      updated: "Cập nhật lúc",
      score: "Điểm chỉ số phục vụ",
      groups: "Sáu nhóm chỉ số (điểm / tối đa)",
      trend: "Diễn biến điểm chỉ số, 30 ngày qua",
      trend_note: "đường: 7 ngày gần nhất · chấm: từng ngày · cột: hồ sơ tiếp nhận",
      best: "Dẫn đầu",
      worst: "Cần cải thiện",
      units_note: "{n} đơn vị có số liệu",
      urgent: "Hồ sơ cần xử lý gấp",
      urgent_note: "quá hạn trước, gần hạn sau",
      no_urgent: "Không có hồ sơ quá hạn hoặc sắp đến hạn",
      urgent_unknown: "Không rõ hồ sơ quá hạn, sắp đến hạn: dữ liệu không cập nhật",
      stale: "DỮ LIỆU KHÔNG CẬP NHẬT",
      reasons: {
        disconnected: "Mất kết nối tới máy chủ chiso; đang thử kết nối lại",
        pipeline: "Luồng sự kiện bị dừng: {lag} sự kiện đang chờ, chưa được xử lý",
        broker: "Không kết nối được Kafka",
        store: "Không đọc được Redis",
        unknown: "Không rõ tình trạng luồng sự kiện (không có Kafka để đo độ trễ)",
      },
      since: "từ {t}",
      conn: { live: "Trực tiếp", connecting: "Đang kết nối…", offline: "Mất kết nối", stale: "Không cập nhật" },
      no_band: "Chưa có dữ liệu",
      views: { overview: "Tổng quan", indicators: "Chỉ số thành phần", units: "Xếp hạng đơn vị",
               stake: "Điểm có thể mất", deadlines: "Hạn xử lý" },
      stake_units: "Đơn vị có nhiều điểm có thể mất nhất",
      stake_dossiers: "Hồ sơ nếu trễ hạn sẽ làm mất nhiều điểm nhất",
      stake_note: "điểm có thể mất · điểm đã mất",
      stake_cols: { unit: "Đơn vị", at_stake: "Có thể mất", open: "Hồ sơ trong hạn", lost: "Đã mất", score: "Điểm" },
      no_stake: "Không có hồ sơ đang giải quyết trong hạn của kỳ này",
      col_cost: "Điểm",
      lost: "mất",
      tiles: { received: "Tiếp nhận", resolved: "Đã giải quyết", on_time: "Đúng hạn",
               online: "Nộp trực tuyến", online_payment: "Thanh toán trực tuyến", satisfaction: "Hài lòng",
               overdue: "Quá hạn", nearing_due: "Sắp đến hạn" },
      open_total: "Đang giải quyết",
      cols: { unit: "Đơn vị", score: "Điểm", on_time: "Đúng hạn", online: "Trực tuyến", online_payment: "TT trực tuyến" },
      col_state: "Tình trạng", col_unit: "Đơn vị", col_procedure: "Thủ tục", col_due: "Hạn trả",
      col_late: "Quá hạn / còn", col_officer: "Cán bộ",
      overdue_by: "quá {d}", left: "còn {d}",
      d: "ngày", h: "giờ", m: "phút",
      procedure: "TTHC",
      officer: "CB",
      due: "hạn",
      no_data: "chưa có số liệu",
      unknown_unit: "Không có đơn vị “{u}” trong danh mục",
      unknown_window: "Khoảng thời gian không hợp lệ: “{w}”",
      none: "—",
    },
    en: {
      title: "Public service index for citizens and businesses",
      all_units: "All units",
      updated: "Updated",
      score: "Service index score",
      groups: "Six groups (points / maximum)",
      trend: "Score over the last 30 days",
      trend_note: "line: last 7 days · dots: each day alone · bars: dossiers received",
      best: "Leading",
      worst: "Needs improvement",
      units_note: "{n} units with data",
      urgent: "Most urgent dossiers",
      urgent_note: "overdue first, then nearing due",
      no_urgent: "No overdue or nearly due dossiers",
      urgent_unknown: "Overdue and nearly due dossiers unknown: data not updating",
      stale: "DATA NOT UPDATING",
      reasons: {
        disconnected: "Lost the connection to the chiso server; reconnecting",
        pipeline: "The event pipeline has stopped: {lag} events waiting, not applied",
        broker: "Kafka is unreachable",
        store: "Redis is unreachable",
        unknown: "Pipeline health unknown (no Kafka to measure the lag)",
      },
      since: "since {t}",
      conn: { live: "Live", connecting: "Connecting…", offline: "Offline", stale: "Not updating" },
      no_band: "No data yet",
      views: { overview: "Overview", indicators: "Indicators", units: "Unit ranking",
               stake: "Points at stake", deadlines: "Deadlines" },
      stake_units: "Units with the most points at stake",
      stake_dossiers: "Dossiers whose lateness would cost the most points",
      stake_note: "points at stake · points lost",
      stake_cols: { unit: "Unit", at_stake: "At stake", open: "Open in time", lost: "Lost", score: "Score" },
      no_stake: "No open in-time dossiers in this window",
      col_cost: "Points",
      lost: "lost",
      tiles: { received: "Received", resolved: "Resolved", on_time: "On time", online: "Submitted online",
               online_payment: "Paid online", satisfaction: "Satisfied", overdue: "Overdue", nearing_due: "Nearing due" },
      open_total: "In progress",
      cols: { unit: "Unit", score: "Score", on_time: "On time", online: "Online", online_payment: "Paid online" },
      col_state: "State", col_unit: "Unit", col_procedure: "Procedure", col_due: "Due",
      col_late: "Late by / left", col_officer: "Officer",
      overdue_by: "{d} late", left: "{d} left",
      d: "d", h: "h", m: "min",
      procedure: "procedure",
      officer: "officer",
      due: "due",
      no_data: "no data",
      unknown_unit: "No unit “{u}” in the catalogue",
      unknown_window: "Invalid window “{w}”",
      none: "—",
    },
  }[LANG];

  // The contract's words (windows, groups, bands, open states) come from the one
  // vocabulary the server serves (processors/vocabulary.py), never copied here.
  function vocabulary(kind) {
    var out = {};
    var terms = (CONFIG.vocabulary || {})[kind] || {};
    Object.keys(terms).forEach(function (id) { out[id] = terms[id][LANG]; });
    return out;
  }
  TEXT.windows = vocabulary("windows");
  TEXT.group_names = vocabulary("groups");
  TEXT.bands = vocabulary("bands");
  TEXT.bands.none = TEXT.no_band;
  TEXT.open = vocabulary("open_states");
  TEXT.indicators = vocabulary("indicators");
  TEXT.open.open = TEXT.open_total;

  // ---- formatting -------------------------------------------------------------------

  var nf1 = new Intl.NumberFormat(LOCALE, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  // Points and scores as the national portal publishes them: 2 decimals.
  var nf2 = new Intl.NumberFormat(LOCALE, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  var nf0 = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 0 });
  var timeFmt = new Intl.DateTimeFormat("en-GB", { timeZone: TZ, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
  var dateFmt = new Intl.DateTimeFormat(LOCALE, { timeZone: "UTC", day: "2-digit", month: "2-digit", year: "numeric" });
  function partsIn(tz) {
    var f = new Intl.DateTimeFormat("en-GB", { timeZone: tz, day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    return function (d) {
      var o = {};
      f.formatToParts(d).forEach(function (p) { o[p.type] = p.value; });
      return o;
    };
  }
  var localParts = partsIn(TZ), utcParts = partsIn("UTC");
  function dayMonth(d) { var p = utcParts(d); return p.day + "/" + p.month; }          // a local date (UTC midnight/noon)
  function localDayMonth(d) { var p = localParts(d); return p.day + "/" + p.month; }    // an instant, in the calendar's zone
  function localDayTime(d) { var p = localParts(d); return p.day + "/" + p.month + " " + p.hour + ":" + p.minute; }

  function fmt(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, k) { return values[k] != null ? values[k] : ""; });
  }
  function num1(v) { return v == null ? TEXT.none : nf1.format(v); }
  function num2(v) { return v == null ? TEXT.none : nf2.format(v); }
  function int(v) { return v == null ? TEXT.none : nf0.format(v); }
  function pct(v) { return v == null ? TEXT.none : nf1.format(v * 100) + "%"; }
  function localDate(iso) { return iso ? dateFmt.format(new Date(iso + "T00:00:00Z")) : ""; }
  function duration(ms) {
    var m = Math.round(Math.abs(ms) / 60000), d = Math.floor(m / 1440), h = Math.floor((m % 1440) / 60), mi = m % 60;
    if (d) return d + " " + TEXT.d + (h ? " " + h + " " + TEXT.h : "");
    if (h) return h + " " + TEXT.h + (mi ? " " + mi + " " + TEXT.m : "");
    return mi + " " + TEXT.m;
  }
  function bandOf(score) {
    if (score == null) return null;
    for (var i = 0; i < BANDS.length; i++) if (score >= BANDS[i][0]) return BANDS[i][1];
    return "weak";
  }

  // ---- DOM helpers (text only) ------------------------------------------------------

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = String(text);
    return e;
  }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); return e; }
  function setText(id, text) { var e = $(id); if (e.textContent !== String(text)) e.textContent = String(text); return e; }
  function flash(e) { e.classList.remove("changed"); void e.offsetWidth; e.classList.add("changed"); }

  var wall = $("wall");
  document.documentElement.lang = LANG;
  document.title = TEXT.title;
  Array.prototype.forEach.call(document.querySelectorAll("[data-i18n]"), function (e) {
    e.textContent = TEXT[e.getAttribute("data-i18n")];
  });
  ["best", "worst"].forEach(function (id) { $(id).style.gridTemplateRows = "repeat(" + TOP + ", minmax(0, 1fr))"; });
  Array.prototype.forEach.call(document.querySelectorAll("[data-cols]"), function (head) {
    ["#", TEXT.cols.unit, TEXT.cols.score, TEXT.cols.on_time, TEXT.cols.online, TEXT.cols.online_payment]
      .forEach(function (t, i) { head.appendChild(el("span", "c" + i, t)); });
  });
  Array.prototype.forEach.call(document.querySelectorAll("[data-stake-cols]"), function (head) {
    var c = TEXT.stake_cols;
    [c.unit, c.at_stake, c.open, c.lost, c.score].forEach(function (t, i) { head.appendChild(el("span", "c" + (i + 1), t)); });
  });

  // ---- state ------------------------------------------------------------------------

  var state = { meta: null, kpis: null, ranking: null, open: null, dossiers: null, trend: null, stake: null, status: null,
                error: null, lastMessage: 0, disconnectedAt: null, updates: 0 };
  window.chisoWall = state; // read by the browser tests and handy in the console

  // ---- header -----------------------------------------------------------------------

  function renderMeta(meta) {
    var name = meta.unit == null ? TEXT.all_units : meta.name;
    setText("unit-name", name);
    setText("unit-path", meta.path && meta.path.length ? meta.path.join(" › ") + " › " : "");
    renderWindowLabel();
  }

  function renderWindowLabel() {
    var w = state.kpis ? state.kpis.window : { name: WINDOW };
    var label = TEXT.windows[w.name] || "";
    if (w.from && w.to) label += " · " + localDate(w.from) + " – " + localDate(w.to);
    setText("window-label", label);
  }

  function tickClock() {
    setText("clock", timeFmt.format(new Date()));
  }

  // ---- overview ---------------------------------------------------------------------

  function renderScale() {
    var scale = $("scale"), labels = $("scale-labels");
    var limits = BANDS.map(function (b) { return b[0]; }).concat([0]);
    var names = BANDS.map(function (b) { return b[1]; }).concat(["weak"]);
    var top = 100;
    for (var i = 0; i < limits.length; i++) {
      var seg = el("div", "seg band-" + names[i]);
      seg.style.left = limits[i] + "%";
      seg.style.width = (top - limits[i]) + "%";
      scale.appendChild(seg);
      if (limits[i] > 0) {
        var lab = el("span", "lim", limits[i]);
        lab.style.left = limits[i] + "%";
        labels.appendChild(lab);
      }
      top = limits[i];
    }
  }

  function renderKpis(k) {
    var idx = k.index || {};
    var scoreEl = $("score");
    var old = scoreEl.getAttribute("data-value");
    var value = idx.score == null ? "" : String(idx.score);
    scoreEl.textContent = num2(idx.score);
    scoreEl.setAttribute("data-value", value);
    if (old !== null && old !== value) flash(scoreEl);
    var band = idx.band || "none";
    var bandEl = $("band");
    bandEl.textContent = TEXT.bands[band] || band;
    bandEl.setAttribute("data-band", band);
    $("scale-marker").style.left = (idx.score == null ? 0 : Math.max(0, Math.min(100, idx.score))) + "%";
    $("scale-marker").hidden = idx.score == null;

    var groups = clear($("groups"));
    GROUPS.forEach(function (g) {
      var pts = idx.groups ? idx.groups[g] : null, max = CONFIG.maxima[g];
      var row = el("div", "group");
      row.id = "group-" + g;
      row.setAttribute("data-group", g);
      row.appendChild(el("div", "gname", TEXT.group_names[g]));
      var value = el("div", "gval");
      var p = el("span", "points", num2(pts));
      p.setAttribute("data-value", pts == null ? "" : String(pts));
      value.appendChild(p);
      value.appendChild(el("span", "max", " / " + nf0.format(max)));
      row.appendChild(value);
      var bar = el("div", "gbar"), fill = el("div", "gfill band-" + (bandOf(pts == null ? null : 100 * pts / max) || "none"));
      fill.style.width = (pts == null ? 0 : Math.max(0, Math.min(100, 100 * pts / max))) + "%";
      bar.appendChild(fill);
      row.appendChild(bar);
      groups.appendChild(row);
    });

    renderIndicators(idx);

    var m = k.measures || {}, r = k.ratios || {};
    setText("score-foot", TEXT.tiles.received + " " + int(m.received) + " · " + TEXT.tiles.resolved + " " + int(m.resolved));
    renderWindowLabel();
    renderTiles();
  }

  function tile(key, label, value, raw, cls) {
    var t = el("div", "tile" + (cls ? " " + cls : ""));
    t.id = "tile-" + key;
    t.appendChild(el("div", "tval", value)).setAttribute("data-value", raw == null ? "" : String(raw));
    t.appendChild(el("div", "tlabel", label));
    return t;
  }

  function renderTiles() {
    var k = state.kpis;
    if (!k) return;
    var m = k.measures || {}, r = k.ratios || {}, tiles = clear($("tiles"));
    tiles.appendChild(tile("received", TEXT.tiles.received, int(m.received), m.received));
    tiles.appendChild(tile("resolved", TEXT.tiles.resolved, int(m.resolved), m.resolved));
    tiles.appendChild(tile("on_time", TEXT.tiles.on_time, pct(r.on_time), r.on_time));
    tiles.appendChild(tile("online", TEXT.tiles.online, pct(r.online), r.online));
    tiles.appendChild(tile("online_payment", TEXT.tiles.online_payment, pct(r.online_payment), r.online_payment));
    var o = state.open;
    if (o && o.available) {
      tiles.appendChild(tile("overdue", TEXT.tiles.overdue, int(o.overdue), o.overdue, o.overdue ? "alert" : ""));
      tiles.appendChild(tile("nearing_due", TEXT.tiles.nearing_due, int(o.nearing_due), o.nearing_due, o.nearing_due ? "warn" : ""));
    }
  }

  // ---- trend (uPlot) ----------------------------------------------------------------

  var chart = null, trendRange = { lo: 0, nmax: 1 };
  function remPx() { return parseFloat(getComputedStyle(document.documentElement).fontSize) || 16; }
  function chartSize() {
    var box = $("trend-chart");
    return { width: Math.max(100, box.clientWidth), height: Math.max(60, box.clientHeight) };
  }

  function renderTrend(t) {
    setText("trend-note", "(" + TEXT.trend_note + ")");
    var xs = [], days = [], rolling = [], ns = [];
    (t.points || []).forEach(function (p) {
      xs.push(Date.parse(p[0] + "T12:00:00Z") / 1000);
      days.push(p[1]);
      rolling.push(p[2]);
      ns.push(p[3] || 0);
    });
    var nmax = Math.max.apply(null, ns.concat([1]));
    var box = $("trend-chart");
    box.setAttribute("data-points", JSON.stringify(t.points || []));
    if (typeof uPlot === "undefined") return;
    var data = [xs, ns, days, rolling];
    // The range follows the 7-day line; a day far off it (a weekend with three
    // dossiers) may fall outside: the line is what the chart is about.
    var present = rolling.filter(function (v) { return v != null; });
    var lo = present.length ? Math.max(0, Math.floor((Math.min.apply(null, present) - 5) / 10) * 10) : 0;
    if (chart) {
      trendRange.lo = lo;
      trendRange.nmax = nmax;
      chart.setData(data, true);
      return;
    }
    trendRange.lo = lo;
    trendRange.nmax = nmax;
    var px = remPx(), size = chartSize();
    var font = "600 " + Math.round(px * 0.8) + "px 'Be Vietnam Pro', sans-serif";
    var grid = { stroke: "rgba(148,163,184,0.14)", width: 1 };
    chart = new uPlot({
      width: size.width, height: size.height,
      legend: { show: false }, cursor: { show: false }, select: { show: false },
      scales: { x: { time: true }, y: { auto: false, range: function () { return [trendRange.lo, 100]; } },
                n: { auto: false, range: function () { return [0, trendRange.nmax * 2.4]; } } },
      axes: [
        { stroke: "#9fb3cf", font: font, grid: grid, ticks: grid, size: px * 2.2, space: px * 5,
          values: function (u, splits) { return splits.map(function (s) { return dayMonth(new Date(s * 1000)); }); } },
        { stroke: "#9fb3cf", font: font, grid: grid, ticks: grid, size: px * 3, space: px * 2.2,
          values: function (u, splits) { return splits.map(function (s) { return nf0.format(s); }); } },
      ],
      series: [
        {},
        { scale: "n", stroke: "rgba(148,163,184,0.0)", fill: "rgba(148,163,184,0.20)", width: 0,
          paths: uPlot.paths.bars({ size: [0.55, Infinity] }), points: { show: false } },
        { stroke: "#7dd3fc", paths: function () { return null; },
          points: { show: true, size: px * 0.45, stroke: "#7dd3fc", fill: "#0b1220", width: Math.max(1, px * 0.08) } },
        { stroke: "#38bdf8", width: Math.max(3, px * 0.22), fill: "rgba(56,189,248,0.10)",
          points: { show: false }, spanGaps: false },
      ],
      hooks: {
        drawAxes: [function (u) {
          // dashed lines at the band limits (90 xuất sắc, 80 tốt, …)
          var ctx = u.ctx;
          ctx.save();
          ctx.setLineDash([px * 0.4, px * 0.4]);
          ctx.lineWidth = Math.max(1, px * 0.06);
          BANDS.forEach(function (b) {
            var y = u.valToPos(b[0], "y", true);
            if (y < u.bbox.top || y > u.bbox.top + u.bbox.height) return;
            ctx.strokeStyle = getComputedStyle(wall).getPropertyValue("--band-" + b[1]).trim() || "#888";
            ctx.beginPath();
            ctx.moveTo(u.bbox.left, y);
            ctx.lineTo(u.bbox.left + u.bbox.width, y);
            ctx.stroke();
          });
          ctx.restore();
        }],
      },
    }, data, box);
  }

  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      if (chart) {
        chart.destroy();
        chart = null;
        clear($("trend-chart"));
        if (state.trend) renderTrend(state.trend);
      }
    }, 200);
  });

  // ---- indicators: where the points are lost -----------------------------------------

  function renderIndicators(idx) {
    var box = clear($("indicator-groups"));
    var inds = idx.indicators || {};
    GROUPS.forEach(function (g) {
      var card = el("div", "card igroup");
      card.id = "igroup-" + g;
      var head = el("div", "card-title");
      head.appendChild(el("span", "", TEXT.group_names[g]));
      var gp = idx.groups ? idx.groups[g] : null;
      var sum = el("span", "igroup-points", num2(gp) + " / " + nf0.format(CONFIG.maxima[g]));
      sum.setAttribute("data-value", gp == null ? "" : String(gp));
      head.appendChild(sum);
      card.appendChild(head);
      Object.keys(inds).forEach(function (code) {
        var ind = inds[code];
        if (ind.group !== g) return;
        var row = el("div", "indicator");
        row.id = "indicator-" + code;
        row.appendChild(el("div", "iname", TEXT.indicators[code] || code));
        var v = el("div", "ival");
        var p = el("span", "points", num2(ind.points));
        p.setAttribute("data-value", ind.points == null ? "" : String(ind.points));
        v.appendChild(p);
        v.appendChild(el("span", "max", " / " + nf0.format(ind.max)));
        row.appendChild(v);
        var share = ind.points == null ? null : 100 * ind.points / ind.max;
        var bar = el("div", "ibar"), fill = el("div", "ifill band-" + (bandOf(share) || "none"));
        fill.style.width = (share == null ? 0 : Math.max(0, Math.min(100, share))) + "%";
        bar.appendChild(fill);
        row.appendChild(bar);
        var lost = ind.points == null ? ind.max : ind.max - ind.points;
        var l = el("div", "ilost" + (lost > 0.005 ? "" : " none"), lost > 0.005 ? "−" + num2(lost) : "");
        l.setAttribute("data-value", String(lost));
        row.appendChild(l);
        card.appendChild(row);
      });
      box.appendChild(card);
    });
  }

  // ---- points at stake -------------------------------------------------------------

  function renderStake(st) {
    var list = clear($("stake-units"));
    (st.items || []).forEach(function (item) {
      var li = el("li", "stake-row");
      li.setAttribute("data-unit", item.unit);
      var name = el("span", "c1 uname", item.name);
      name.title = item.name;
      li.appendChild(name);
      var at = el("span", "c2 at-stake", num2(item.at_stake));
      at.setAttribute("data-value", String(item.at_stake));
      li.appendChild(at);
      li.appendChild(el("span", "c3", int(item.open_in_time)));
      var lost = el("span", "c4 lost", num2(item.lost_total));
      lost.setAttribute("data-value", String(item.lost_total));
      li.appendChild(lost);
      var sc = el("span", "c5 uscore", num2(item.score));
      sc.setAttribute("data-band", item.band || "none");
      li.appendChild(sc);
      list.appendChild(li);
    });
    setText("stake-note", "(" + TEXT.stake_note + ")");
    var body = clear($("stake-dossiers"));
    (st.dossiers || []).forEach(function (it) {
      var tr = el("tr", "st-" + it.state);
      tr.setAttribute("data-dossier", it.dossier_id);
      var cost = el("td", "cost", num2(it.cost));
      cost.setAttribute("data-value", String(it.cost));
      tr.appendChild(cost);
      tr.appendChild(el("td", "", it.unit_name || it.unit_id || ""));
      var proc = el("td", "proc", it.procedure_name || it.procedure_id || "");
      proc.title = it.procedure_id || "";
      tr.appendChild(proc);
      tr.appendChild(el("td", "due", it.due_at ? localDayTime(new Date(it.due_at)) : TEXT.none));
      tr.appendChild(el("td", "late", relative(it, true)));
      tr.appendChild(el("td", "", it.officer_id || TEXT.none));
      body.appendChild(tr);
    });
    var empty = $("stake-empty");
    empty.hidden = (st.dossiers || []).length > 0;
    empty.textContent = TEXT.no_stake;
    updateViews();
  }

  // ---- units ------------------------------------------------------------------------

  function rankRow(item) {
    var li = el("li", "rank-row");
    li.setAttribute("data-unit", item.unit);
    li.appendChild(el("span", "c0 rank", item.rank));
    var name = el("span", "c1 uname", item.name);
    name.title = item.name;
    li.appendChild(name);
    var sc = el("span", "c2 uscore", num2(item.score));
    sc.setAttribute("data-value", item.score == null ? "" : String(item.score));
    sc.setAttribute("data-band", item.band || "none");
    sc.title = TEXT.bands[item.band || "none"];
    li.appendChild(sc);
    li.appendChild(el("span", "c3 ratio", pct(item.on_time)));
    li.appendChild(el("span", "c4 ratio", pct(item.online)));
    li.appendChild(el("span", "c5 ratio", pct(item.online_payment)));
    return li;
  }

  function renderRanking(r) {
    var b = clear($("best")), w = clear($("worst"));
    (r.best || []).forEach(function (i) { b.appendChild(rankRow(i)); });
    (r.worst || []).forEach(function (i) { w.appendChild(rankRow(i)); });
    setText("units-note", "(" + fmt(TEXT.units_note, { n: nf0.format(r.scored || 0) }) + ")");
    updateViews();
  }

  // ---- deadlines --------------------------------------------------------------------

  function renderOpen(o) {
    var box = clear($("open-counts"));
    if (!o.available) { updateViews(); renderTiles(); return; }
    [["overdue", "alert"], ["nearing_due", "warn"], ["paused", "info"], ["not_due", "ok"],
     ["overdue_no_apology", "alert dim"], ["open", "total"]].forEach(function (pair) {
      var c = el("div", "count " + pair[1]);
      c.id = "open-" + pair[0];
      var v = el("div", "cval", int(o[pair[0]]));
      v.setAttribute("data-value", o[pair[0]] == null ? "" : String(o[pair[0]]));
      c.appendChild(v);
      c.appendChild(el("div", "clabel", TEXT.open[pair[0]]));
      box.appendChild(c);
    });
    renderTiles();
    updateViews();
    if (state.dossiers) renderDossiers(state.dossiers);
  }

  function relative(item, coarse) {
    var now = state.open && state.open.now ? Date.parse(state.open.now) : Date.now();
    var due = Date.parse(item.due_at);
    if (isNaN(due)) return "";
    var ms = Math.abs(now - due);
    if (coarse && ms >= 3600000) ms = Math.floor(ms / 3600000) * 3600000;
    return now > due ? fmt(TEXT.overdue_by, { d: duration(ms) }) : fmt(TEXT.left, { d: duration(ms) });
  }

  // Show only the rows that fit entirely (a half-cut row reads badly from afar),
  // keeping about a third of them for dossiers nearing their due: those can still be saved.
  function fitRows() {
    var wrap = document.querySelector(".urgent-wrap"), table = wrap.querySelector("table");
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    if (!wrap.offsetParent || !rows.length) return;  // not shown: fitted when it is
    rows.forEach(function (tr) { tr.hidden = false; });
    var rowH = rows[0].getBoundingClientRect().height || 1;
    var fit = Math.max(1, Math.floor((wrap.clientHeight - table.tHead.getBoundingClientRect().height) / rowH));
    var over = rows.filter(function (tr) { return tr.classList.contains("st-overdue"); });
    var near = rows.filter(function (tr) { return !tr.classList.contains("st-overdue"); });
    var nNear = Math.min(near.length, Math.max(fit - over.length, Math.floor(fit / 3)));
    var nOver = Math.min(over.length, fit - nNear);
    over.forEach(function (tr, i) { tr.hidden = i >= nOver; });
    near.forEach(function (tr, i) { tr.hidden = i >= nNear; });
  }

  function renderDossiers(d) {
    var body = clear($("urgent")), track = $("ticker-track");
    var items = d.available ? d.items || [] : [];
    // An empty list is "no overdue dossiers" only when the data is known to be current:
    // with Redis down or the pipeline stopped it is "unknown", never a green all-clear.
    var known = d.known !== false && !isStale();
    $("urgent-empty").hidden = !d.available || items.length > 0;
    $("urgent-empty").classList.toggle("unknown", !known);
    setText("urgent-empty", known ? TEXT.no_urgent : TEXT.urgent_unknown);
    setText("urgent-note", "(" + TEXT.urgent_note + ")");
    items.forEach(function (it) {
      var tr = el("tr", "st-" + it.state);
      tr.setAttribute("data-dossier", it.dossier_id);
      tr.appendChild(el("td", "chip-cell")).appendChild(el("span", "chip st-" + it.state, TEXT.open[it.state] || it.state));
      tr.appendChild(el("td", "uname", it.unit_name || it.unit_id));
      var proc = el("td", "proc", it.procedure_name || it.procedure_id);
      proc.title = it.procedure_id || "";
      tr.appendChild(proc);
      tr.appendChild(el("td", "due", it.due_at ? localDayTime(new Date(it.due_at)) : TEXT.none));
      tr.appendChild(el("td", "late", relative(it)));
      tr.appendChild(el("td", "officer", it.officer_id || TEXT.none));
      body.appendChild(tr);
    });
    fitRows();
    $("ticker").hidden = !d.available;
    if (!d.available) return;
    // The ticker restarts its crawl when rebuilt: rebuild it only when its text changes
    // (its times are coarse, to the hour, so that this is rare).
    var signature = JSON.stringify([known, items.map(function (it) { return [it.dossier_id, it.unit_name, relative(it, true)]; })]);
    if (signature === renderDossiers.ticker) return;
    renderDossiers.ticker = signature;
    clear(track);
    var runs = items.length ? [0, 1] : [0];  // twice, for a seamless loop
    runs.forEach(function () {
      if (!items.length) {
        track.appendChild(known ? el("span", "tick ok", "✓ " + TEXT.no_urgent)
                                : el("span", "tick unknown", "? " + TEXT.urgent_unknown));
        return;
      }
      items.forEach(function (it) {
        var s = el("span", "tick st-" + it.state);
        s.appendChild(el("span", "tstate", (it.state === "overdue" ? "⚠ " : "◷ ") + (TEXT.open[it.state] || it.state)));
        s.appendChild(el("span", "tunit", it.unit_name || it.unit_id));
        s.appendChild(el("span", "tproc", it.procedure_name || (TEXT.procedure + " " + it.procedure_id)));
        s.appendChild(el("span", "tdue", TEXT.due + " " + (it.due_at ? localDayTime(new Date(it.due_at)) : TEXT.none) + " (" + relative(it, true) + ")"));
        if (it.officer_id) s.appendChild(el("span", "toff", TEXT.officer + " " + it.officer_id));
        track.appendChild(s);
      });
    });
    track.classList.toggle("moving", items.length > 0);
    track.style.animationDuration = Math.max(20, items.length * 7) + "s";
  }

  // ---- status, staleness, connection ------------------------------------------------

  function isStale() {
    return wall.getAttribute("data-stale") === "1";
  }

  function renderStatus() {
    var s = state.status;
    var wasStale = isStale();
    if (s && s.applied_at) {
      var at = new Date(s.applied_at * 1000);
      setText("updated-at", timeFmt.format(at) + " · " + localDayMonth(at));
      $("updated-at").setAttribute("data-value", String(s.applied_at));
    }
    var reason = null, since = null;
    if (state.disconnectedAt != null && Date.now() - state.disconnectedAt > 3000) {
      reason = "disconnected"; since = state.disconnectedAt;
    } else if (state.lastMessage && Date.now() - state.lastMessage > CONFIG.heartbeat_s * 3000) {
      reason = "disconnected"; since = state.lastMessage;
    } else if (s && s.stale) {
      reason = s.reason || "pipeline"; since = s.applied_at ? s.applied_at * 1000 : null;
    }
    var stale = reason != null;
    wall.setAttribute("data-stale", stale ? "1" : "0");
    wall.setAttribute("data-stale-reason", reason || "");
    $("stale").hidden = !stale;
    // The live dot says whether the numbers are current, not only whether the page is connected.
    var conn = wall.getAttribute("data-conn");
    if (stale && reason !== "disconnected" && conn === "live") setConn("stale");
    else if (!stale && conn === "stale") setConn("live");
    if (stale !== wasStale && state.dossiers) renderDossiers(state.dossiers);
    if (stale) {
      var text = fmt(TEXT.reasons[reason] || reason, { lag: s && s.lag != null ? int(s.lag) : "?" });
      if (since) text += " (" + fmt(TEXT.since, { t: timeFmt.format(new Date(since)) }) + ")";
      setText("stale-reason", "— " + text);
    }
  }

  function setConn(c) {
    if (wall.getAttribute("data-conn") !== c) wall.setAttribute("data-conn", c);
    setText("conn-label", TEXT.conn[c]);
  }

  function showError(e) {
    state.error = e;
    var box = $("error");
    box.hidden = !e;
    if (e) box.textContent = e.kind === "window" ? fmt(TEXT.unknown_window, { w: WINDOW }) : fmt(TEXT.unknown_unit, { u: UNIT || "" });
  }

  // ---- views and rotation -----------------------------------------------------------

  var current = null, rotateStarted = 0, rotatedOnce = false;

  function available() {
    var v = ["overview"];
    if (state.kpis && state.kpis.index && state.kpis.index.indicators) v.push("indicators");
    if (state.ranking && state.ranking.scored > 0) v.push("units");
    if (state.stake && (state.stake.items || []).length > 0) v.push("stake");
    if (state.open && state.open.available) v.push("deadlines");
    return v;
  }

  function show(view) {
    var views = available();
    if (views.indexOf(view) < 0) view = views[0];
    current = view;
    wall.setAttribute("data-view", view);
    Array.prototype.forEach.call(document.querySelectorAll(".view"), function (s) {
      s.classList.toggle("active", s.getAttribute("data-view") === view);
    });
    Array.prototype.forEach.call(document.querySelectorAll(".views-nav .vn"), function (n) {
      n.classList.toggle("active", n.getAttribute("data-view") === view);
    });
    rotateStarted = Date.now();
    if (view === "deadlines") fitRows();
    if (view === "overview" && chart) {
      var size = chartSize();
      if (size.width !== chart.width || size.height !== chart.height) chart.setSize(size);
    }
  }

  function updateViews() {
    var nav = $("views-nav"), views = available();
    var names = Array.prototype.map.call(nav.children, function (n) { return n.getAttribute("data-view"); }).join();
    if (names !== views.join()) {
      clear(nav);
      views.forEach(function (v) {
        var n = el("button", "vn", TEXT.views[v]);
        n.type = "button";
        n.setAttribute("data-view", v);
        n.addEventListener("click", function () { show(v); });
        nav.appendChild(n);
      });
    }
    var want = current;
    if (!rotatedOnce && START_VIEW && views.indexOf(START_VIEW) >= 0) want = START_VIEW;
    if (want == null || views.indexOf(want) < 0) want = views[0];
    if (want !== current) show(want);
  }

  function rotate() {
    var bar = $("rotate-bar");
    if (!ROTATE_S) { bar.style.width = "0"; return; }
    var elapsed = (Date.now() - rotateStarted) / 1000;
    if (elapsed >= ROTATE_S) {
      var views = available();
      rotatedOnce = true;
      show(views[(views.indexOf(current) + 1) % views.length]);
      elapsed = 0;
    }
    bar.style.width = Math.min(100, 100 * elapsed / ROTATE_S) + "%";
  }

  document.addEventListener("keydown", function (e) {
    var views = available(), i = views.indexOf(current);
    if (e.key === "ArrowRight") { rotatedOnce = true; show(views[(i + 1) % views.length]); }
    if (e.key === "ArrowLeft") { rotatedOnce = true; show(views[(i - 1 + views.length) % views.length]); }
    if (e.key === "f" && document.documentElement.requestFullscreen) document.documentElement.requestFullscreen().catch(function () {});
  });
  wall.addEventListener("dblclick", function () {
    if (document.documentElement.requestFullscreen) document.documentElement.requestFullscreen().catch(function () {});
  });

  // ---- the live feed ----------------------------------------------------------------

  var source = null, reconnectDelay = 1000;

  function eventsUrl() {
    var q = new URLSearchParams();
    if (UNIT) q.set("unit", UNIT);
    q.set("window", WINDOW);
    q.set("top", String(TOP));
    return "/wall/events?" + q.toString();
  }

  var handlers = {
    hello: function (d) {
      if (d.version && d.version !== CONFIG.version) { window.location.reload(); }
    },
    problem: function (d) { showError(d); },
    meta: function (d) { state.meta = d; showError(null); renderMeta(d); },
    kpis: function (d) { state.kpis = d; renderKpis(d); },
    ranking: function (d) { state.ranking = d; renderRanking(d); },
    open: function (d) { state.open = d; renderOpen(d); },
    dossiers: function (d) { state.dossiers = d; renderDossiers(d); },
    trend: function (d) { state.trend = d; renderTrend(d); },
    stake: function (d) { state.stake = d; renderStake(d); },
    status: function (d) { state.status = d; renderStatus(); },
  };

  function connect() {
    if (source) source.close();
    setConn("connecting");
    source = new EventSource(eventsUrl());
    source.onopen = function () {
      setConn("live");
      state.disconnectedAt = null;
      state.lastMessage = Date.now();
      reconnectDelay = 1000;
      renderStatus();
    };
    source.onerror = function () {
      if (state.disconnectedAt == null) state.disconnectedAt = Date.now();
      setConn(source.readyState === EventSource.CLOSED ? "offline" : "connecting");
      renderStatus();
    };
    Object.keys(handlers).forEach(function (name) {
      source.addEventListener(name, function (ev) {
        if (typeof ev.data !== "string") return;
        state.lastMessage = Date.now();
        state.disconnectedAt = null;
        if (wall.getAttribute("data-conn") !== "stale") setConn("live");
        var data;
        try { data = JSON.parse(ev.data); } catch (err) { return; }
        state.updates += 1;
        wall.setAttribute("data-updates", String(state.updates));
        handlers[name](data);
        if (name !== "status") renderStatus();
      });
    });
  }

  // EventSource reconnects by itself after a network error; it gives up for good
  // on an HTTP error (a proxy's 502 while chiso restarts). The watchdog then
  // opens a new one, and also replaces a connection that went silent.
  function watchdog() {
    var silent = state.lastMessage && Date.now() - state.lastMessage > CONFIG.heartbeat_s * 3000;
    if (source && (source.readyState === EventSource.CLOSED || (silent && source.readyState === EventSource.OPEN))) {
      if (!watchdog.pending) {
        watchdog.pending = true;
        setTimeout(function () { watchdog.pending = false; state.lastMessage = 0; connect(); }, reconnectDelay);
        reconnectDelay = Math.min(15000, reconnectDelay * 2);
      }
    }
    renderStatus();
  }

  renderScale();
  setConn("connecting");
  updateViews();
  tickClock();
  setInterval(tickClock, 1000);
  setInterval(rotate, 250);
  setInterval(watchdog, 1000);
  connect();
})();
