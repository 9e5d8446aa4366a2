// Refreshes the table of live nodes from /v1/nodes every two seconds.
// Everything the registry returns is inserted as text, never as HTML.
"use strict";

(function () {
  const period = 2000;

  function ago(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    return s < 60 ? s + "s ago" : Math.floor(s / 60) + "m" + (s % 60) + "s ago";
  }

  function cell(row, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }

  function render(nodes, now) {
    const body = document.querySelector("#nodes tbody");
    const rows = [];
    let cores = 0;
    for (const n of nodes) {
      const row = document.createElement("tr");
      row.dataset.id = n.id;
      cell(row, n.name).title = n.id;
      const addr = document.createElement("code");
      addr.textContent = n.addr;
      cell(row, "").appendChild(addr);
      cell(row, String(n.cores), "num");
      cell(row, n.version);
      const state = n.state || "ready"; // nodes of earlier versions send none
      cell(row, state, "state " + state);
      const seen = new Date(n.lastSeen);
      cell(row, ago(now - seen)).title = n.lastSeen;
      rows.push(row);
      cores += n.cores;
    }
    body.replaceChildren(...rows);
    document.getElementById("count").textContent = String(nodes.length);
    document.getElementById("count-noun").textContent = nodes.length === 1 ? "node" : "nodes";
    document.getElementById("cores").textContent = String(cores);
    document.getElementById("empty").hidden = nodes.length > 0;
  }

  async function refresh() {
    const status = document.getElementById("status");
    try {
      const resp = await fetch("/v1/nodes", { cache: "no-store" });
      if (!resp.ok) throw new Error("HTTP " + resp.status);
      const data = await resp.json();
      // Ages are measured against the registry's clock (the Date header),
      // not the browser's.
      const date = resp.headers.get("Date");
      const now = date ? new Date(date).getTime() : Date.now();
      render(data.nodes || [], now);
      status.textContent = "updated " + new Date().toLocaleTimeString();
      status.className = "";
    } catch (e) {
      status.textContent = "registry unreachable (" + e.message + "), retrying";
      status.className = "error";
    }
  }

  refresh();
  setInterval(refresh, period);
})();
