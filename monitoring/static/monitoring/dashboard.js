/* The live network dashboard: keeps the page in step with /ws/dashboard/.
 * Vanilla JavaScript, no library: the console works offline.
 *
 * The server renders the page; this script redraws what the socket sends:
 * "snapshot" (everything), "summary" (counts, problems, faults), "money"
 * (revenue, energy, running sessions), "grid" (the page of cards read
 * again) and "charge_points" (cards of this page, or new on it). Cards
 * are kept in the server's order: attention rank, then charge point id by
 * code point (monitoring.grid). Dates are written with Intl in the
 * console's calendar (body data-calendar, default "gregory") and time zone. */
(function () {
  "use strict";

  const root = document.getElementById("dashboard");
  if (!root) return;
  const labels = JSON.parse(document.getElementById("dashboard-labels").textContent);
  const grid = document.getElementById("grid");
  const state = document.getElementById("live-state");
  const lang = document.documentElement.lang || undefined;
  const quickUrl = root.dataset.quickUrl || "";
  const csrf = root.dataset.csrf || "";

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(function ([key, value]) {
      if (value === null || value === undefined || value === false) return;
      if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? "" : value);
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    });
    return node;
  }

  function interpolate(text, values) {
    return text.replace(/%\((\w+)\)s/g, function (match, name) {
      return name in values ? String(values[name]) : match;
    });
  }

  // --- Dates, numbers, durations -------------------------------------------------

  const dateFormat = (function () {
    const options = { dateStyle: "medium", timeStyle: "medium" };
    const calendar = (document.body && document.body.dataset.calendar) || "gregory";
    const zone = root.dataset.timeZone;
    const attempts = [
      Object.assign({ calendar: calendar, timeZone: zone }, options),
      Object.assign({ calendar: calendar }, options),
      Object.assign({ calendar: "gregory" }, options),
    ];
    for (const attempt of attempts) {
      try {
        return new Intl.DateTimeFormat(lang, attempt);
      } catch (error) {
        // An unknown calendar or time zone: try with less.
      }
    }
    return new Intl.DateTimeFormat(undefined, options);
  })();

  function formatTime(iso) {
    const date = new Date(iso);
    return isNaN(date) ? iso : dateFormat.format(date);
  }

  function localizeTimes(scope) {
    scope.querySelectorAll("time[datetime]").forEach(function (node) {
      node.textContent = formatTime(node.getAttribute("datetime"));
    });
  }

  function timeNode(iso) {
    return el("time", { datetime: iso }, [formatTime(iso)]);
  }

  const moneyFormat = new Intl.NumberFormat(lang, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  function formatMoney(amount, currency) {
    const value = Number(amount);
    return (isNaN(value) ? amount : moneyFormat.format(value)) + " " + currency;
  }

  function formatKwh(wh, places) {
    return wh === null || wh === undefined ? "—" : (wh / 1000).toFixed(places);
  }

  function pad(number) {
    return String(number).padStart(2, "0");
  }

  // H:MM:SS, as monitoring.views.format_duration writes it.
  function formatDuration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    return Math.floor(seconds / 3600) + ":" + pad(Math.floor((seconds % 3600) / 60)) + ":" + pad(seconds % 60);
  }

  // --- Quick commands ------------------------------------------------------------

  function quickForms(actions, fields) {
    if (!quickUrl || !actions || !actions.length) return null;
    return el("span", { class: "quick-actions" }, actions.map(function (action) {
      const hidden = Object.assign({ csrfmiddlewaretoken: csrf, quick: action, next: window.location.pathname + window.location.search }, fields);
      const inputs = Object.entries(hidden)
        .filter(function ([, value]) { return value !== null && value !== undefined && value !== ""; })
        .map(function ([name, value]) { return el("input", { type: "hidden", name: name, value: value }); });
      return el("form", {
        method: "post",
        action: quickUrl,
        class: "quick-action",
        dataset: Object.assign({ quick: action }, labels.confirms[action] ? { confirm: labels.confirms[action] } : {}),
      }, inputs.concat([el("button", { type: "submit", class: "button quick-button" }, [labels.actions[action] || action])]));
    }));
  }

  // A command that stops a session or reboots a charger is confirmed first.
  root.addEventListener("submit", function (event) {
    const form = event.target.closest("form.quick-action");
    if (form && form.dataset.confirm && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });

  // --- The grid ------------------------------------------------------------------

  function statusClass(status) {
    return labels.statuses[status] ? "status-" + status.toLowerCase() : "status-unknown";
  }

  function onlineBadge(online) {
    return el("span", { class: "badge " + (online ? "badge-online" : "badge-offline"), dataset: { role: "online" } },
      [online ? labels.online : labels.offline]);
  }

  function connectorBadge(c) {
    const name = c.connector_id === 0 ? labels.chargePoint : "#" + c.connector_id;
    return el("li", {
      class: "badge " + statusClass(c.status),
      dataset: { connector: c.connector_id, status: c.status },
      title: (c.error_code || "") + " " + (c.info || ""),
    }, [name + " " + (labels.statuses[c.status] || c.status)]);
  }

  function card(cp) {
    const meta = [];
    if (cp.station) meta.push(el("span", {}, [cp.station]));
    if (cp.node) meta.push(el("span", { title: labels.node }, ["⛁ " + cp.node]));
    meta.push(cp.last_heartbeat
      ? el("span", {}, [labels.lastHeartbeat + ": ", timeNode(cp.last_heartbeat)])
      : el("span", {}, [labels.noHeartbeat]));
    return el("article", {
      class: "cp-card rank-" + cp.rank + " " + (cp.online ? "is-online" : "is-offline"),
      dataset: { cp: cp.pk, id: cp.id, rank: cp.rank },
    }, [
      el("header", {}, [el("a", { class: "cp-name", href: cp.url }, [cp.id]), " ", onlineBadge(cp.online)]),
      el("p", { class: "cp-meta" }, meta),
      el("ul", { class: "connectors" }, cp.connectors.map(connectorBadge)),
    ]);
  }

  // The server's order: rank, then id by code point (not the locale's collation).
  function before(a, b) {
    const rankA = Number(a.dataset.rank), rankB = Number(b.dataset.rank);
    if (rankA !== rankB) return rankA < rankB;
    return a.dataset.id < b.dataset.id;
  }

  function perPage() {
    return parseInt(grid.dataset.perPage, 10) || 100;
  }

  function upsert(cp) {
    const fresh = card(cp);
    const existing = grid.querySelector('[data-cp="' + cp.pk + '"]');
    if (existing) existing.remove();
    grid.querySelectorAll(".empty").forEach(function (node) { node.remove(); });
    const after = Array.from(grid.querySelectorAll("[data-cp]")).find(function (other) {
      return before(fresh, other);
    });
    grid.insertBefore(fresh, after || null);
  }

  function trimGrid() {
    const cards = grid.querySelectorAll("[data-cp]");
    for (let index = perPage(); index < cards.length; index += 1) cards[index].remove();
  }

  function renderGridInfo(info) {
    if (!info) return;
    grid.dataset.page = info.page;
    grid.dataset.pages = info.pages;
    grid.dataset.perPage = info.per_page;
    const text = interpolate(labels.page, { page: info.page, pages: info.pages, count: info.count });
    const node = document.getElementById("grid-page-info");
    if (node) node.textContent = text;
    const count = document.getElementById("grid-count");
    if (count) count.textContent = info.count;
  }

  function renderGrid(cards, info) {
    grid.replaceChildren();
    cards.forEach(upsert);
    if (!cards.length) grid.append(el("p", { class: "empty" }, [labels.noMatch]));
    renderGridInfo(info);
  }

  // --- Counts, problems, faults ---------------------------------------------------

  function setText(id, value) {
    const node = document.getElementById(id);
    if (node) node.textContent = value;
  }

  function renderSummary(summary) {
    setText("count-online", summary.charge_points.online);
    setText("count-offline", summary.charge_points.offline);
    setText("count-open-transactions", summary.open_transactions);
    if (summary.energy_today_wh !== undefined) setText("count-energy-today", formatKwh(summary.energy_today_wh, 1));
    setText("count-nodes-alive", summary.nodes.alive);
    setText("count-nodes-dead", summary.nodes.dead);
    Object.entries(summary.connectors).forEach(function ([status, count]) {
      const node = root.querySelector('[data-count-status="' + status + '"]');
      if (node) node.textContent = count;
    });
  }

  function connectorRow(row) {
    const name = row.connector_id === 0 ? labels.chargePoint : "#" + row.connector_id;
    const parts = [
      el("a", { href: row.url }, [row.charge_point]), " " + name + " ",
      el("span", { class: "badge " + statusClass(row.status) }, [labels.statuses[row.status] || row.status]),
    ];
    if (row.error_code && row.error_code !== "NoError") {
      parts.push(" ", el("span", { class: "badge-error" }, [labels.errors[row.error_code] || row.error_code]));
    }
    const quiet = [(row.info || "") + " " + (row.vendor_error_code || "") + " "];
    if (row.timestamp) quiet.push(timeNode(row.timestamp));
    parts.push(" ", el("span", { class: "quiet" }, quiet), " ");
    parts.push(row.online
      ? quickForms(row.actions, { charge_point: row.charge_point, connector_id: row.connector_id })
      : el("span", { class: "badge badge-offline" }, [labels.offline]));
    return el("li", { class: "problem-row", dataset: { chargePoint: row.charge_point, connector: row.connector_id, status: row.status } }, parts);
  }

  function problemRow(kind, row) {
    if (kind === "offline_sessions") {
      const quiet = [labels.since + " ", timeNode(row.start)];
      if (row.last_seen) quiet.push(", " + labels.lastSeen + " ", timeNode(row.last_seen));
      return el("li", { class: "problem-row", dataset: { transaction: row.transaction } }, [
        el("a", { href: row.url }, [row.transaction]), " ",
        el("a", { href: row.charge_point_url }, [row.charge_point]), " #" + row.connector_id + " ",
        el("span", { class: "quiet" }, quiet),
      ]);
    }
    if (kind === "pending") {
      const quiet = [(row.vendor || "") + " " + (row.model || "")];
      if (row.created_at) quiet.push(" · ", timeNode(row.created_at));
      return el("li", { class: "problem-row", dataset: { chargePoint: row.charge_point } }, [
        el("a", { href: row.url }, [row.charge_point]), " ", el("span", { class: "quiet" }, quiet),
      ]);
    }
    return connectorRow(row);
  }

  function renderProblem(problem) {
    const item = root.querySelector('[data-problem="' + problem.kind + '"]');
    if (!item) return;
    item.dataset.count = problem.count;
    const count = item.querySelector('[data-role="count"]');
    if (count) count.textContent = problem.count;
    const rows = item.querySelector('[data-role="rows"]');
    if (rows) rows.replaceChildren.apply(rows, problem.rows.map(function (row) { return problemRow(problem.kind, row); }));
    let more = item.querySelector('[data-role="more"]');
    const hidden = problem.rows.length ? problem.count - problem.rows.length : 0;
    if (hidden > 0) {
      if (!more) {
        more = el("a", { class: "problem-more", href: problem.url, dataset: { role: "more" } });
        item.append(more);
      }
      more.textContent = interpolate(labels.more, { count: hidden });
    } else if (more) {
      more.remove();
    }
  }

  let alarmCount = document.querySelectorAll("#alarms [data-alarm]").length;

  function renderProblems(problems) {
    if (!problems) return;
    problems.forEach(renderProblem);
    const total = problems.reduce(function (sum, p) { return sum + p.count; }, 0) + alarmCount;
    setText("problems-total", total);
    const panel = document.getElementById("problems");
    if (panel) panel.dataset.total = total;
    const clear = document.getElementById("problems-clear");
    if (clear) clear.hidden = total > 0;
  }

  function renderFaults(faults) {
    const body = document.querySelector("#faults tbody");
    if (!body || !faults) return;
    if (!faults.length) {
      body.replaceChildren(el("tr", { class: "empty" }, [el("td", { colspan: 6 }, [labels.noFaults])]));
      return;
    }
    body.replaceChildren.apply(body, faults.map(function (f) {
      return el("tr", {}, [
        el("td", {}, f.timestamp ? [timeNode(f.timestamp)] : []),
        el("td", {}, [el("a", { href: f.url }, [f.charge_point])]),
        el("td", {}, [f.connector_id]),
        el("td", {}, [labels.statuses[f.status] || f.status]),
        el("td", {}, [labels.errors[f.error_code] || f.error_code]),
        el("td", {}, [(f.info || "") + " " + (f.vendor_error_code || "")]),
      ]);
    }));
  }

  function renderAlarms(alarms) {
    const list = document.getElementById("alarms");
    if (!list || !alarms) return;
    alarmCount = alarms.length;
    list.hidden = !alarms.length;
    list.replaceChildren.apply(list, alarms.map(function (a) {
      return el("li", { class: a.severity === "critical" ? "error" : "warning", dataset: { alarm: a.code }, role: "alert" },
        [a.message + " ", el("a", { href: a.url }, [labels.details || "Details"])]);
    }));
  }

  // --- Money and running sessions -------------------------------------------------

  function renderAmounts(id, totals) {
    const node = document.getElementById(id);
    if (!node) return;
    node.replaceChildren.apply(node, totals.length
      ? totals.map(function (t) { return el("span", { class: "amount", dataset: { currency: t.currency } }, [formatMoney(t.total, t.currency)]); })
      : [el("span", { class: "amount none" }, [labels.noRevenue])]);
  }

  function renderMoney(money) {
    if (!money) return;
    renderAmounts("revenue-today", money.revenue.today);
    renderAmounts("revenue-month", money.revenue.month);
    setText("count-energy-today", formatKwh(money.energy.today_wh, 1));
    setText("energy-month", formatKwh(money.energy.month_wh, 1));
  }

  // Server time minus this browser's, so that durations tick from the server's count.
  const sessionsSection = document.getElementById("sessions");
  let clockSkew = sessionsSection && sessionsSection.dataset.at ? new Date(sessionsSection.dataset.at) - new Date() : 0;
  if (isNaN(clockSkew)) clockSkew = 0;

  function sessionRow(row) {
    return el("tr", { dataset: { transaction: row.transaction, start: row.start } }, [
      el("td", {}, [el("a", { href: row.url }, [row.transaction])]),
      el("td", {}, [el("a", { href: row.charge_point_url }, [row.charge_point]), " #" + row.connector_id,
        row.online ? null : " ", row.online ? null : el("span", { class: "badge badge-offline" }, [labels.offline])]),
      el("td", {}, [row.id_tag]),
      el("td", {}, [timeNode(row.start)]),
      el("td", { dataset: { role: "duration" } }, [formatDuration(row.duration_s)]),
      el("td", { dataset: { role: "energy" } }, [formatKwh(row.energy_wh, 2)]),
      el("td", { dataset: { role: "cost" } }, [row.cost ? formatMoney(row.cost.total, row.cost.currency) : "—"]),
      el("td", {}, [row.online ? quickForms(["stop"], { charge_point: row.charge_point, connector_id: row.connector_id, transaction: row.transaction }) : null]),
    ]);
  }

  function copyCellLabels(table) {
    // Narrow screens show each cell under its column's name (console.css).
    const names = Array.from(table.querySelectorAll("thead th")).map(function (th) { return th.textContent; });
    table.querySelectorAll("tbody tr").forEach(function (tr) {
      Array.from(tr.children).forEach(function (td, index) { if (names[index]) td.dataset.label = names[index]; });
    });
  }

  function renderSessions(sessions) {
    if (!sessions) return;
    const table = document.getElementById("running-sessions");
    if (!table) return;
    const body = table.querySelector("tbody");
    clockSkew = new Date(sessions.at) - new Date();
    body.replaceChildren.apply(body, sessions.rows.length
      ? sessions.rows.map(sessionRow)
      : [el("tr", { class: "empty" }, [el("td", { colspan: 8 }, [labels.noSessions])])]);
    copyCellLabels(table);
    setText("sessions-count", sessions.count);
    const more = document.getElementById("sessions-more");
    if (more) more.hidden = sessions.count <= sessions.shown;
  }

  function tickDurations() {
    const now = Date.now() + clockSkew;
    document.querySelectorAll("#running-sessions tr[data-start]").forEach(function (tr) {
      const cell = tr.querySelector('[data-role="duration"]');
      const start = new Date(tr.dataset.start);
      if (cell && !isNaN(start)) cell.textContent = formatDuration((now - start) / 1000);
    });
  }

  // --- The socket ------------------------------------------------------------------

  function setState(name) {
    state.dataset.state = name;
    state.textContent = labels[name] || state.dataset[name] || name;
  }

  const handlers = {
    snapshot: function (message) {
      renderAlarms(message.alarms);
      renderSummary(message.summary);
      renderProblems(message.problems);
      renderGrid(message.charge_points, message.grid);
      renderFaults(message.faults);
      renderMoney(message.money);
      renderSessions(message.sessions);
    },
    charge_points: function (message) {
      message.charge_points.forEach(upsert);
      trimGrid();
    },
    grid: function (message) { renderGrid(message.charge_points, message.grid); },
    summary: function (message) {
      renderSummary(message.summary);
      renderProblems(message.problems);
      renderFaults(message.faults);
    },
    money: function (message) {
      renderMoney(message.money);
      renderSessions(message.sessions);
    },
    // The server's channel layer is down (no pushes; snapshots go on) or back.
    live: function (message) { setState(message.state === "degraded" ? "degraded" : "live"); },
  };

  let retry = 1000;
  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    // The page's search and page number: the server sends this page's cards.
    const socket = new WebSocket(scheme + window.location.host + root.dataset.wsPath + window.location.search);
    socket.onopen = function () { retry = 1000; setState("live"); };
    socket.onmessage = function (event) {
      const message = JSON.parse(event.data);
      const handle = handlers[message.type];
      if (handle) handle(message);
    };
    socket.onclose = function () {
      setState("disconnected");
      window.setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    };
  }

  // On a phone the fleet starts folded: the problems and sessions come first.
  const gridSection = document.getElementById("grid-section");
  if (gridSection && window.matchMedia && window.matchMedia("(max-width: 767px)").matches && !window.location.search) {
    gridSection.open = false;
  }

  localizeTimes(root);
  const sessionsTable = document.getElementById("running-sessions");
  if (sessionsTable) copyCellLabels(sessionsTable);
  window.setInterval(tickDurations, 1000);
  connect();
})();
