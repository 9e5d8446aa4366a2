// tessera preview: paints tiles as server-sent events bring them.
// Text from the server (node names, addresses) only ever goes into
// textContent, never into HTML.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const main = $('main');
  const image = $('image').getContext('2d');
  const overlay = $('overlay').getContext('2d');
  const palette = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f',
    '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
  const colour = (i) => i < palette.length ? palette[i] : `hsl(${(i * 137.508) % 360} 65% 55%)`;

  const tiles = new Map();  // "x,y,w,h" -> {x, y, w, h, node, colour}
  const labels = new Map(); // colour index -> node name (or id)
  let render = '';

  function hello(d) {
    $('title').textContent = d.title || '';
    document.title = d.title ? `tessera: ${d.title}` : 'tessera preview';
    if (d.render === render) return; // a resync: keep what is painted
    render = d.render;
    for (const c of [image.canvas, overlay.canvas]) { c.width = d.width; c.height = d.height; } // and clears them
    tiles.clear();
    labels.clear();
    legend();
    $('strip').replaceChildren();
    $('frame').hidden = true;
    delete main.dataset.frame;
    main.dataset.tiles = '0';
  }

  // An animation: the tiles that follow are of frame d.frame.
  function frame(d) {
    if (main.dataset.frame === String(d.frame)) return; // a resync of the same frame: keep it
    image.clearRect(0, 0, image.canvas.width, image.canvas.height);
    overlay.clearRect(0, 0, overlay.canvas.width, overlay.canvas.height);
    tiles.clear();
    main.dataset.tiles = '0';
    main.dataset.frame = String(d.frame);
    const f = $('frame');
    f.textContent = `frame ${d.frame}`;
    f.hidden = false;
  }

  // A finished frame of an animation, small, in the strip under the image.
  function strip(d) {
    const s = $('strip');
    const id = `strip-${d.frame}`;
    const fig = document.createElement('figure');
    fig.id = id;
    const img = document.createElement('img');
    img.src = `data:image/png;base64,${d.png}`;
    img.alt = `frame ${d.frame}`;
    const cap = document.createElement('figcaption');
    cap.textContent = String(d.frame);
    fig.append(img, cap);
    const old = document.getElementById(id);
    if (old) old.replaceWith(fig); else s.append(fig);
    while (s.children.length > 120) s.firstElementChild.remove();
    s.hidden = false;
    main.dataset.strip = String(s.children.length);
  }

  function tile(d) {
    const bin = atob(d.rgb);
    const im = image.createImageData(d.w, d.h);
    const px = im.data;
    for (let i = 0, j = 0; i < bin.length; i += 3, j += 4) {
      px[j] = bin.charCodeAt(i);
      px[j + 1] = bin.charCodeAt(i + 1);
      px[j + 2] = bin.charCodeAt(i + 2);
      px[j + 3] = 255; // opaque: putImageData then keeps the bytes exactly
    }
    image.putImageData(im, d.x, d.y);
    const t = { x: d.x, y: d.y, w: d.w, h: d.h, node: d.node, colour: d.colour };
    tiles.set(`${t.x},${t.y},${t.w},${t.h}`, t);
    if (!labels.has(t.colour)) { labels.set(t.colour, t.node); legend(); }
    paintOverlay(t);
    main.dataset.tiles = String(tiles.size);
  }

  function paintOverlay(t) {
    overlay.clearRect(t.x, t.y, t.w, t.h);
    overlay.fillStyle = colour(t.colour);
    overlay.globalAlpha = 0.55;
    overlay.fillRect(t.x, t.y, t.w, t.h);
    overlay.globalAlpha = 0.9;
    overlay.lineWidth = 1;
    overlay.strokeStyle = colour(t.colour);
    overlay.strokeRect(t.x + 0.5, t.y + 0.5, t.w - 1, t.h - 1);
  }

  function swatch(c) {
    const s = document.createElement('span');
    s.className = 'swatch';
    s.style.backgroundColor = colour(c);
    return s;
  }

  function legend() {
    const ul = $('legend');
    ul.replaceChildren(...[...labels.keys()].sort((a, b) => a - b).map((c) => {
      const li = document.createElement('li');
      li.dataset.colour = String(c);
      li.append(swatch(c), labels.get(c));
      return li;
    }));
  }

  function nodes(d) {
    const rows = (d.nodes || []).map((n) => {
      labels.set(n.colour, n.name || n.id);
      const tr = document.createElement('tr');
      tr.className = `state-${n.state}`;
      const checks = n.trust ? [String(n.checked), String(n.audited)] : ['', ''];
      const cells = [n.name || n.id, n.addr, n.source, String(n.tiles), n.mraysPerSec.toFixed(1), n.state, ...checks, n.trust || ''];
      const first = document.createElement('td');
      first.append(swatch(n.colour));
      tr.append(first, ...cells.map((text, i) => {
        const td = document.createElement('td');
        td.textContent = text;
        if (i === 3 || i === 4 || i === 6 || i === 7) td.className = 'num';
        if (i === 8 && n.trust) td.className = `trust-${n.trust}`;
        return td;
      }));
      return tr;
    });
    $('nodes').tBodies[0].replaceChildren(...rows);
    legend();
  }

  function duration(s) {
    s = Math.round(s);
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
    return `${Math.floor(s / 3600)}h ${Math.floor(s / 60) % 60}m`;
  }

  function count(n) {
    if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
    if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
    if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
    return String(n);
  }

  function progress(d) {
    const bar = $('bar');
    bar.max = Math.max(d.total, 1);
    bar.value = d.done;
    const pct = d.total > 0 ? Math.floor(100 * d.done / d.total) : 0;
    let eta = 'ETA unknown';
    if (d.done >= d.total && d.total > 0) eta = 'all tiles in';
    else if (d.etaSeconds >= 0) eta = `ETA ${duration(d.etaSeconds)}`;
    const frames = d.frames > 0 ? `${d.framesDone}/${d.frames} frames · ` : '';
    if (d.frames > 0 && d.done >= d.total && d.total > 0) eta = 'all frames in';
    $('progress').textContent = `${frames}${d.done}/${d.total} tiles (${pct}%) · ${count(d.rays)} rays · ${eta}`;
  }

  function finished(d) {
    const a = $('png');
    a.href = d.url;
    a.hidden = false;
    main.dataset.finished = 'true';
    es.close(); // nothing more will come: do not reconnect when the server stops
    conn.textContent = 'finished';
    conn.className = 'conn-live';
  }

  const byNode = $('bynode');
  const showOverlay = () => {
    overlay.canvas.hidden = !byNode.checked;
    $('legend').hidden = !byNode.checked;
  };
  byNode.addEventListener('change', showOverlay);
  showOverlay();

  const conn = $('conn');
  const es = new EventSource('events');
  const handlers = { hello, frame, strip, tile, nodes, progress, finished };
  for (const [name, fn] of Object.entries(handlers)) {
    es.addEventListener(name, (e) => fn(JSON.parse(e.data)));
  }
  es.onopen = () => { conn.textContent = 'live'; conn.className = 'conn-live'; };
  es.onerror = () => { conn.textContent = 'reconnecting…'; conn.className = 'conn-wait'; };
})();
