/* The live network dashboard: keeps the page in step with /ws/dashboard/.
 * Vanilla JavaScript, no library: the console works offline. */
(function () {
  "use strict";

  const root = document.getElementById("dashboard");
  if (!root) return;
  const labels = JSON.parse(document.getElementById("dashboard-labels").textContent);
  const grid = document.getElementById("grid");
  const state = document.getElementById("live-state");
  const gridLimit = parseInt(grid.dataset.limit, 10) || 500;

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(function ([key, value]) {
      if (value === null || value === undefined) return;
      if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value);
    });
    (children || []).forEach(function (child) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    });
    return node;
  }

  function statusClass(status) {
    return labels.statuses[status] ? "status-" + status.toLowerCase() : "status-unknown";
  }

  function formatTime(iso) {
    const date = new Date(iso);
    return isNaN(date) ? iso : date.toLocaleString(document.documentElement.lang || undefined);
  }

  function localizeTimes(scope) {
    scope.querySelectorAll("time[datetime]").forEach(function (node) {
      node.textContent = formatTime(node.getAttribute("datetime"));
    });
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
      ? el("span", {}, [labels.lastHeartbeat + ": ", el("time", { datetime: cp.last_heartbeat }, [formatTime(cp.last_heartbeat)])])
      : el("span", {}, [labels.noHeartbeat]));
    return el("article", { class: "cp-card " + (cp.online ? "is-online" : "is-offline"), dataset: { cp: cp.pk } }, [
      el("header", {}, [el("a", { class: "cp-name", href: cp.url }, [cp.id]), " ", onlineBadge(cp.online)]),
      el("p", { class: "cp-meta" }, meta),
      el("ul", { class: "connectors" }, cp.connectors.map(connectorBadge)),
    ]);
  }

  function upsert(cp) {
    const fresh = card(cp);
    const existing = grid.querySelector('[data-cp="' + cp.pk + '"]');
    if (existing) {
      existing.replaceWith(fresh);
      return;
    }
    const cards = Array.from(grid.querySelectorAll("[data-cp]"));
    if (cards.length >= gridLimit) return;
    grid.querySelectorAll(".empty").forEach(function (node) { node.remove(); });
    const after = cards.find(function (other) {
      return other.querySelector(".cp-name").textContent > cp.id;
    });
    grid.insertBefore(fresh, after || null);
  }

  function renderGrid(cards) {
    grid.replaceChildren();
    cards.forEach(upsert);
  }

  function setText(id, value) {
    const node = document.getElementById(id);
    if (node) node.textContent = value;
  }

  function renderSummary(summary) {
    setText("count-online", summary.charge_points.online);
    setText("count-offline", summary.charge_points.offline);
    setText("count-open-transactions", summary.open_transactions);
    setText("count-disputed-sessions", summary.disputed_sessions);
    setText("count-billing-failures", summary.billing_failures_unresolved);
    setText("count-energy-today", (summary.energy_today_wh / 1000).toFixed(1));
    setText("count-nodes-alive", summary.nodes.alive);
    setText("count-nodes-dead", summary.nodes.dead);
    Object.entries(summary.connectors).forEach(function ([status, count]) {
      const node = root.querySelector('[data-count-status="' + status + '"]');
      if (node) node.textContent = count;
    });
  }

  function renderFaults(faults) {
    const body = document.querySelector("#faults tbody");
    if (!faults.length) {
      body.replaceChildren(el("tr", { class: "empty" }, [el("td", { colspan: 6 }, [labels.noFaults])]));
      return;
    }
    body.replaceChildren.apply(body, faults.map(function (f) {
      return el("tr", {}, [
        el("td", {}, f.timestamp ? [el("time", { datetime: f.timestamp }, [formatTime(f.timestamp)])] : []),
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
    list.hidden = !alarms.length;
    list.replaceChildren.apply(list, alarms.map(function (a) {
      return el("li", { class: a.severity === "critical" ? "error" : "warning", dataset: { alarm: a.code }, role: "alert" },
        [a.message + " ", el("a", { href: a.url }, [labels.details || "Details"])]);
    }));
  }

  function setState(name) {
    state.dataset.state = name;
    state.textContent = labels[name] || state.dataset[name] || name;
  }

  const handlers = {
    snapshot: function (message) {
      renderAlarms(message.alarms);
      renderSummary(message.summary);
      renderGrid(message.charge_points);
      renderFaults(message.faults);
    },
    charge_points: function (message) { message.charge_points.forEach(upsert); },
    summary: function (message) {
      renderSummary(message.summary);
      renderFaults(message.faults);
    },
    // The server's channel layer is down (no pushes; snapshots go on) or back.
    live: function (message) { setState(message.state === "degraded" ? "degraded" : "live"); },
  };

  let retry = 1000;
  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + window.location.host + root.dataset.wsPath);
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

  localizeTimes(root);
  connect();
})();
