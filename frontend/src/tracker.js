/*
 * Footfall tracker: counts pageviews (single-page apps included), outbound link clicks, file
 * downloads and custom events, and sends them to Footfall's POST /api/event.
 *
 * No cookies, no localStorage, no fingerprinting: the server derives a daily-rotating visitor
 * hash. Everything runs inside try/catch so that a failure here never breaks the host page.
 * Documented in docs/tracker.md; build.mjs wraps this file in a function scope, minifies it and
 * writes src/footfall/collect/static/script.js.
 */

// Documents, archives and media: pdf xlsx docx txt rtf csv exe key pps(x) ppt(x) 7z pkg rar gz zip
// avi mov mp3 mp4 mpeg wmv wma midi wav dmg iso msi.
const DOWNLOAD_EXTENSIONS =
  /\.(pdf|xlsx|docx|txt|rtf|csv|exe|key|pp[st]x?|7z|pkg|rar|gz|zip|avi|mov|mp[34]|mpeg|wm[va]|midi|wav|dmg|iso|msi)$/i;

// Local names for the globals: the minifier can shorten these, not the globals themselves.
const win = window;
const doc = document;
const loc = win.location;
const script = doc.currentScript;

// Read from the script tag's data-* attributes at start (see the end of this file).
let endpoint, domain, hashRouting, trackOutbound, trackDownloads;

// Boolean switches: absent means the default, any value but "false" turns them on.
const enabled = (value, fallback) => (value == null ? fallback : value != 'false');

// The function with its errors contained: analytics must never be why a page's code stops.
const safe =
  (fn) =>
  (...args) => {
    try {
      fn(...args);
    } catch (error) {}
  };

const on = (target, type, listener) => target.addEventListener(type, safe(listener));

/**
 * window.footfall(name, {props, revenue: {amount, currency}, interactive, url, callback}).
 * The callback runs once the event has been handed to the browser (or skipped on file://).
 */
const footfall = safe((name, options = {}) => {
  const callback = options.callback || (() => {});
  if (loc.protocol == 'file:') return callback();
  // JSON.stringify leaves out the keys whose value is undefined.
  const body = JSON.stringify({
    n: name,
    u: options.url || loc.href,
    d: domain,
    r: doc.referrer || null,
    w: win.innerWidth,
    h: hashRouting || undefined,
    p: options.props,
    $: options.revenue,
    i: options.interactive,
  });
  // A text/plain body is a "simple" request (no CORS preflight), and a beacon outlives the
  // page, so a click that navigates away still gets counted. sendBeacon answers false when the
  // browser will not queue it (too much pending data); fetch with keepalive outlives the page
  // too.
  if (
    navigator.sendBeacon &&
    navigator.sendBeacon(endpoint, new Blob([body], { type: 'text/plain' }))
  ) {
    callback();
  } else {
    fetch(endpoint, { method: 'POST', body, keepalive: true }).then(callback, callback);
  }
});

// The page last counted (its hash only in hash-routing mode), so that the same URL is never
// counted twice in a row, and its path (pathname, plus hash in hash-routing mode).
let lastPage, lastPath;

// Safe on its own: the history wrappers below call it inside the page's own code.
const pageview = safe((replaced) => {
  const path = loc.pathname + (hashRouting ? loc.hash : '');
  const page = path + loc.search;
  // replaceState rewrites the current history entry, often only to keep filter or scroll
  // state in the query string: there, only a new path counts as a new page.
  // (`replaced` is true from the replaceState wrapper; listeners pass an event, not that.)
  const same = replaced === true ? path == lastPath : page == lastPage;
  lastPage = page;
  lastPath = path;
  if (!same) footfall('pageview');
  // A tracked link's signed parameter (ffl, appended last to the query) went with this pageview:
  // take it out of the address bar, so that it is not bookmarked or shared. The rewrite counts
  // as no new page (same path).
  const clean = loc.href.replace(/[?&]ffl=[^&#]*(?=#|$)/, '');
  if (clean != loc.href) history.replaceState(history.state, '', clean);
});

const wrapHistory = (method, replaced) => {
  const original = history[method];
  history[method] = (...args) => {
    const result = original.apply(history, args);
    pageview(replaced);
    return result;
  };
};

// Outbound links and downloads, on the primary click and the middle (new tab) click alike. The
// default action is never prevented: the beacon travels on its own.
// (A click is button 0, a middle click 1; auxclick also reports the right button, 2.)
const onClick = (event) => {
  const link = event.button < 2 && event.target.closest('a[href]');
  if (!link || !/^http/.test(link.protocol)) return;
  const props = { props: { url: link.href } };
  const download = link.hasAttribute('download') || DOWNLOAD_EXTENSIONS.test(link.pathname);
  if (trackDownloads && download) {
    footfall('File Download', props);
  } else if (trackOutbound && link.host != loc.host) {
    footfall('Outbound Link: Click', props);
  }
};

try {
  const data = script.dataset;
  endpoint = data.api || new URL('/api/event', script.src);
  domain = data.domain || loc.hostname;
  hashRouting = enabled(data.hash, false);
  trackOutbound = enabled(data.outbound, true);
  trackDownloads = enabled(data.downloads, true);

  const queued = (win.footfall || {}).q || [];
  win.footfall = footfall;

  wrapHistory('pushState');
  wrapHistory('replaceState', true);
  on(win, 'popstate', pageview);
  // Current browsers also fire popstate for a fragment change; counting dedupes the pair.
  if (hashRouting) on(win, 'hashchange', pageview);
  // A page restored from the back/forward cache runs no script again, yet it is a new view.
  on(win, 'pageshow', (event) => event.persisted && footfall('pageview'));
  on(doc, 'click', onClick);
  on(doc, 'auxclick', onClick);

  // A prerendered page has not been seen yet: count it when the visitor actually opens it.
  if (doc.prerendering) {
    on(doc, 'prerenderingchange', pageview);
  } else {
    pageview();
  }

  // Calls made through the snippet before this script loaded, in their original order.
  for (const args of queued) footfall(...args);
} catch (error) {
  // A browser too old for the code above simply goes uncounted.
}
