/*
 * Footfall dashboard enhancements. The server-rendered page already works without this file
 * (links and GET forms carry the view in the URL); this script adds the uPlot graph, keyboard
 * accessible tabs, auto-submitting range and graph controls, and the live visitor counter fed by
 * the real-time Server-Sent Events stream. It reads its data from data-* attributes and a JSON
 * block, so the page's Content-Security-Policy needs no inline script or style.
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

function activate(tabs, chosen, focus) {
  for (const tab of tabs) {
    const selected = tab === chosen;
    tab.setAttribute('aria-selected', String(selected));
    tab.tabIndex = selected ? 0 : -1;
    document.getElementById(tab.getAttribute('aria-controls')).hidden = !selected;
  }
  if (focus) chosen.focus();
}

function enhanceTabs() {
  for (const list of document.querySelectorAll('[role="tablist"]')) {
    const tabs = Array.from(list.querySelectorAll('[role="tab"]'));
    list.hidden = false;
    list.closest('.panel').classList.add('tabbed');
    activate(tabs, tabs[0], false);
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
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
