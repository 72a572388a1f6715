/*
 * Footfall dashboard enhancements. The server-rendered page already works without this file
 * (links and GET forms carry the view in the URL); this script adds the uPlot graph, keyboard
 * accessible tabs (fetching a tab the server left for later when it is first opened),
 * auto-submitting range and graph controls, the live visitor counter fed by
 * the real-time Server-Sent Events stream, and the real-time view's refresh (it fetches the
 * view's live part again every second while the tab is visible). It reads its data from data-*
 * attributes and a JSON block, so the page's Content-Security-Policy needs no inline script or
 * style.
 */
import uPlot from 'uplot';

function readGraph() {
  const node = document.getElementById('graph-data');
  return node ? JSON.parse(node.textContent) : null;
}

function cssColor(name, fallback) {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value || fallback;
}

function drawGraph() {
  const target = document.getElementById('chart');
  const graph = readGraph();
  if (!target || !graph || graph.labels.length === 0) return;
  const xs = graph.labels.map((_, index) => index);
  const data = [xs, graph.values];
  const series = [{}, { label: graph.label, stroke: cssColor('--accent', '#2455c3'), width: 2,
    fill: cssColor('--accent-fill', 'rgba(36, 85, 195, 0.12)') }];
  if (graph.previous) {
    data.push(graph.previous);
    series.push({ label: 'Previous period', stroke: cssColor('--muted', '#888'), width: 1,
      dash: [6, 4] });
  }
  const axisColor = cssColor('--fg', '#222');
  const grid = { stroke: cssColor('--grid', 'rgba(128, 128, 128, 0.2)'), width: 1 };
  const axes = [
    { stroke: axisColor, grid, values: (_, splits) => splits.map((i) => graph.labels[i] ?? '') },
    { stroke: axisColor, grid },
  ];
  const size = () => ({ width: target.clientWidth, height: 260 });
  const plot = new uPlot({ ...size(), series, axes, scales: { x: { time: false } },
    legend: { live: true } }, data, target);
  target.classList.add('drawn');
  new ResizeObserver(() => plot.setSize(size())).observe(target);
}

// A tab the server left for later (data-partial): fetch it from the same URL with the
// partial header and swap its content in; on failure its "Show ..." link still works.
async function loadTab(panel) {
  const part = panel.dataset.partial;
  if (!part || panel.dataset.loading || !window.fetch) return;
  panel.dataset.loading = 'true';
  try {
    const url = window.location.href.split('#')[0];
    const response = await fetch(url, { headers: { 'X-Footfall-Partial': part } });
    if (!response.ok) throw new Error(`tab ${part}: HTTP ${response.status}`);
    const holder = document.createElement('template');
    holder.innerHTML = await response.text();
    const fresh = holder.content.querySelector('.tabpanel');
    if (!fresh) throw new Error(`tab ${part}: no tab in the answer`);
    panel.replaceChildren(...fresh.childNodes);
    delete panel.dataset.partial;
    panel.removeAttribute('aria-busy');
  } catch (error) {
    console.warn(error);
  } finally {
    delete panel.dataset.loading;
  }
}

function activate(tabs, chosen, focus) {
  for (const tab of tabs) {
    const selected = tab === chosen;
    tab.setAttribute('aria-selected', String(selected));
    tab.tabIndex = selected ? 0 : -1;
    const panel = document.getElementById(tab.getAttribute('aria-controls'));
    panel.hidden = !selected;
    if (selected) loadTab(panel);
  }
  if (focus) chosen.focus();
}

// A row link may end with #tabpanel-<panel>-<tab> (drill-downs): that tab opens after the click.
function linkedTab(tabs) {
  const target = decodeURIComponent(window.location.hash.slice(1));
  return tabs.find((tab) => tab.getAttribute('aria-controls') === target) || tabs[0];
}

function enhanceTabs() {
  for (const list of document.querySelectorAll('[role="tablist"]')) {
    const tabs = Array.from(list.querySelectorAll('[role="tab"]'));
    list.hidden = false;
    list.closest('.panel').classList.add('tabbed');
    activate(tabs, linkedTab(tabs), false);
    list.addEventListener('click', (event) => {
      const tab = event.target.closest('[role="tab"]');
      if (tab) activate(tabs, tab, false);
    });
    list.addEventListener('keydown', (event) => {
      const index = tabs.indexOf(document.activeElement);
      const moves = { ArrowRight: 1, ArrowLeft: -1, Home: -index, End: tabs.length - 1 - index };
      if (index < 0 || !(event.key in moves)) return;
      event.preventDefault();
      activate(tabs, tabs[(index + moves[event.key] + tabs.length) % tabs.length], true);
    });
  }
}

function autoSubmit() {
  for (const select of document.querySelectorAll('.dashboard form select')) {
    select.addEventListener('change', () => {
      // A custom range needs its dates first: the Apply button submits it.
      if (select.name === 'period' && select.value === 'custom') return;
      select.form.requestSubmit();
    });
  }
}

function liveVisitors() {
  const root = document.querySelector('.dashboard[data-stream]');
  const counter = document.getElementById('current-visitors');
  if (!root || !counter || !window.EventSource) return;
  const source = new EventSource(root.dataset.stream);
  source.addEventListener('realtime', (event) => {
    const counts = JSON.parse(event.data);
    counter.textContent = String(counts.visitors);
    counter.dataset.updated = String(Date.now());
  });
}

// The real-time view: fetch its live part again (same URL, the partial header) and swap it in.
function refreshRealtime() {
  const live = document.getElementById('realtime');
  const status = document.getElementById('realtime-status');
  const counter = document.getElementById('current-visitors');
  const every = status ? Number(status.dataset.refresh) * 1000 : 0;
  if (!live || !every || !window.fetch) return;
  let timer = null;
  let busy = false;

  function swap(fresh) {
    // What the reader opened (the table of minutes) stays open.
    const opened = Array.from(live.querySelectorAll('details'), (details) => details.open);
    fresh.querySelectorAll('details').forEach((details, index) => {
      details.open = Boolean(opened[index]);
    });
    if (fresh.innerHTML === live.innerHTML) return;
    // Keep the keyboard focus on the same link when the rows are replaced under it.
    const focused = live.contains(document.activeElement) ? document.activeElement : null;
    const href = focused && focused.getAttribute('href');
    live.replaceChildren(...fresh.childNodes);
    live.dataset.current = fresh.dataset.current;
    if (counter.textContent !== fresh.dataset.current) counter.textContent = fresh.dataset.current;
    if (href) {
      const again = Array.from(live.querySelectorAll('a[href]')).find(
        (link) => link.getAttribute('href') === href);
      if (again) again.focus();
    }
  }

  async function tick() {
    timer = null;
    if (document.hidden) return;
    // A steady rhythm: the next refresh is due one interval after this one starts, and is
    // skipped while an answer is still on its way.
    schedule();
    if (busy) return;
    busy = true;
    try {
      const answer = await fetch(window.location.href, {
        headers: { 'X-Footfall-Partial': 'realtime', Accept: 'text/html' },
        credentials: 'same-origin',
        cache: 'no-store',
      });
      if (answer.redirected || answer.status === 401 || answer.status === 403 ||
          answer.status === 404) {
        // Logged out, or the access is gone: the full page says what happened.
        window.location.reload();
        return;
      }
      if (answer.ok) {
        const page = new DOMParser().parseFromString(await answer.text(), 'text/html');
        const fresh = page.getElementById('realtime');
        if (fresh) swap(fresh);
      }
    } catch {
      // A network blip: the next tick tries again.
    } finally {
      busy = false;
    }
    live.dataset.updated = String(Date.now());
  }

  function schedule() {
    if (timer === null && !document.hidden) timer = window.setTimeout(tick, every);
  }

  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && timer === null) tick();
  });
  schedule();
}

// Settings page: copy the tracking snippet (the button stays hidden without this script).
function copyButtons() {
  for (const button of document.querySelectorAll('button[data-copy]')) {
    const source = document.getElementById(button.dataset.copy);
    if (!source || !navigator.clipboard) continue;
    button.hidden = false;
    button.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(source.textContent);
        button.textContent = 'Copied';
      } catch {
        // Clipboard refused (permissions): select the text so that Ctrl+C copies it.
        window.getSelection().selectAllChildren(source);
        button.textContent = 'Press Ctrl+C to copy';
      }
    });
  }
}

function start() {
  copyButtons();
  drawGraph();
  enhanceTabs();
  autoSubmit();
  liveVisitors();
  refreshRealtime();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
