// Device Readings dashboard: plain ES2020, no dependencies, no build step. It reads the JSON API
// (GET /devices, /devices/{id}, /devices/{id}/buckets) and refreshes every few seconds in place.
'use strict';

const REFRESH_MS = 5000;
const MAX_BARS = 120;
const RECENT_ROWS = 20;
const RECENT_PAGES = 5;
const KEY_STORAGE = 'device-readings.api-key';
const SVG_NS = 'http://www.w3.org/2000/svg';
const PRESETS = { '1h': 3600e3, '24h': 86400e3, '7d': 7 * 86400e3, '30d': 30 * 86400e3 };
// Candidate bucket steps in seconds; the automatic step is the smallest giving <= MAX_BARS bars.
const STEPS = [1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
  86400, 172800, 604800, 2592000, 31536000];

const $ = (id) => document.getElementById(id);
const numbers = new Intl.NumberFormat();
const compact = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });
const format = (n) => numbers.format(n); // accepts numbers and BigInts, exactly

const state = {
  prefix: '', after: null, stack: [], limit: 50, lastId: null, silent: '',
  device: null, range: { preset: '24h' }, relativeNow: false,
  ready: { table: false, detail: false },
  timer: 0, generation: 0, aborts: {}, chart: null, chartKey: '', recentKey: '', needKey: false,
};

// ---- API ---------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

// Cumulative counts are exact up to 2^63-1, but a JS number is exact only up to 2^53. Where the
// browser hands revivers the number's source text (JSON.parse source text access, in Chromium
// since 114), larger integers become BigInts and stay exact; elsewhere JSON.parse rounds them to
// the nearest double (acceptable for a display).
function parseJSON(text) {
  return JSON.parse(text, (key, value, context) =>
    typeof value === 'number' && !Number.isSafeInteger(value) && context && /^-?\d+$/.test(context.source)
      ? BigInt(context.source) : value);
}

function storedKey() {
  try { return sessionStorage.getItem(KEY_STORAGE) || ''; } catch { return ''; }
}

async function api(path, signal) {
  const headers = { Accept: 'application/json' };
  const key = storedKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  let response;
  try {
    response = await fetch(path, { headers, signal, cache: 'no-store' });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, 'NETWORK', 'Cannot reach the server; retrying.');
  }
  const text = await response.text();
  let body = null;
  try { body = parseJSON(text); } catch { /* not JSON: reported below */ }
  if (!response.ok) {
    const error = body && body.error ? body.error : {};
    throw new ApiError(response.status, error.code || `HTTP ${response.status}`, error.message || response.statusText);
  }
  if (body === null) throw new ApiError(response.status, 'BAD_RESPONSE', `${path}: the answer is not JSON`);
  return body;
}

// Query strings are built by hand: URLSearchParams writes a space as "+", which this server reads
// as a literal plus. encodeURIComponent writes "%20" and "%2B" (so "+01:00" offsets survive).
function query(params) {
  const parts = Object.entries(params).filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`);
  return parts.length ? `?${parts.join('&')}` : '';
}
const devicePath = (id, rest = '') => `/devices/${encodeURIComponent(id)}${rest}`;

// ---- Time helpers ------------------------------------------------------------------------------

// Milliseconds since the epoch; fractions beyond milliseconds are dropped (display only).
const parseTime = (ts) => Date.parse(String(ts).trim().toUpperCase().replace(/(\.\d{3})\d+/, '$1').replace(' ', 'T'));
const iso = (ms) => new Date(ms).toISOString().replace('.000Z', 'Z');
const showTime = (ts) => String(ts).replace('T', ' ').replace(/Z$/, '');
function stepName(seconds) {
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]]) {
    if (seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}
const stepSeconds = (step) => {
  const match = /^(\d+)([smhd])$/.exec(step);
  return match ? Number(match[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[match[2]] : NaN;
};
const pickStep = (spanMs) => STEPS.find((s) => Math.ceil(spanMs / (s * 1000)) <= MAX_BARS) || STEPS[STEPS.length - 1];

// The API parameters of the chosen range. Presets end with the bucket that holds the device's
// latest reading (or now), so the bars are aligned and old seeded data still shows.
function resolveRange(latest) {
  const range = state.range;
  if (range.preset) {
    const span = PRESETS[range.preset];
    const stepMs = pickStep(span) * 1000;
    const end = state.relativeNow ? Date.now() : parseTime(latest);
    const to = (Math.floor(end / stepMs) + 1) * stepMs;
    return { from: iso(to - span), to: iso(to), step: stepName(stepMs / 1000) };
  }
  let step = range.step;
  if (!step) {
    const span = parseTime(range.to) - parseTime(range.from);
    step = span > 0 ? stepName(pickStep(span)) : '1h';
  }
  return { from: range.from, to: range.to, step };
}

// ---- Location: #device=ID&from=..&to=..&step=.. or #device=ID&range=24h (also as ?query) ------

function parseParams(text) {
  const params = {};
  for (const part of text.split('&')) {
    const at = part.indexOf('=');
    if (at <= 0) continue;
    try { params[part.slice(0, at)] = decodeURIComponent(part.slice(at + 1)); } catch { /* bad escape */ }
  }
  return params;
}

function readLocation() {
  const params = { ...parseParams(location.search.slice(1)), ...parseParams(location.hash.slice(1)) };
  if (params.from || params.to) state.range = { from: params.from || '', to: params.to || '', step: params.step || '' };
  else if (params.range in PRESETS) state.range = { preset: params.range };
  if (params.silent !== undefined && SILENT_SPANS[params.silent] !== undefined) state.silent = params.silent;
  const device = params.device === undefined || params.device === '' ? null : params.device;
  const changed = device !== state.device;
  state.device = device;
  return changed;
}

function writeLocation() {
  const encode = (value) => encodeURIComponent(value).replace(/%3A/g, ':'); // colons read better
  const parts = state.device === null ? [] : [`device=${encode(state.device)}`];
  if (state.silent) parts.push(`silent=${state.silent}`);
  const range = state.range;
  if (range.preset) parts.push(`range=${range.preset}`);
  else for (const name of ['from', 'to', 'step']) if (range[name]) parts.push(`${name}=${encode(range[name])}`);
  history.replaceState(null, '', `${location.pathname}${location.search}#${parts.join('&')}`);
}

// ---- Device table ------------------------------------------------------------------------------

// How long a device must have been quiet to be marked silent, and the filter's choices ('' is
// "all devices": rows are still marked when quiet for an hour).
const SILENT_SPANS = { '': 3600e3, '1h': 3600e3, '6h': 6 * 3600e3, '24h': 86400e3, '7d': 7 * 86400e3 };
const isSilent = (latest) => Date.now() - Date.parse(latest) > SILENT_SPANS[state.silent];

function setCell(cell, value, text) {
  if (cell.dataset.value === value) return;
  cell.dataset.value = value;
  cell.textContent = text;
}

// A timestamp cell wraps (on phones) between date and time only.
function setTimeCell(cell, ts) {
  if (cell.dataset.value === ts) return;
  cell.dataset.value = ts;
  cell.replaceChildren(...showTime(ts).split(' ').flatMap((part, i) => {
    const span = document.createElement('span');
    span.textContent = part;
    return i ? [' ', span] : [span];
  }));
}

function newDeviceRow(id) {
  const row = document.createElement('tr');
  row.dataset.id = id;
  const link = document.createElement('a');
  link.href = `#device=${encodeURIComponent(id)}`;
  link.textContent = id;
  link.title = id;
  row.insertCell().append(link);
  for (let i = 0; i < 3; i++) row.insertCell();
  row.cells[2].className = 'num';
  row.cells[3].className = 'num';
  return row;
}

// Keyed, in-place update: existing rows are kept (and only their changed cells rewritten), new
// ones inserted at their place, vanished ones removed. No flicker; scroll and focus survive.
function renderDevices(devices, hasNext) {
  const body = $('devices').tBodies[0];
  const unused = new Map(Array.from(body.rows, (row) => [row.dataset.id, row]));
  devices.forEach((device, index) => {
    const row = unused.get(device.id) || newDeviceRow(device.id);
    unused.delete(device.id);
    setTimeCell(row.cells[1], device.latest_timestamp);
    const silent = isSilent(device.latest_timestamp);
    row.classList.toggle('silent', silent);
    row.cells[1].title = silent ? 'silent: no reading for a while' : '';
    setCell(row.cells[2], String(device.cumulative_count), format(device.cumulative_count));
    setCell(row.cells[3], String(device.readings), format(device.readings));
    if (body.rows[index] !== row) body.insertBefore(row, body.rows[index] || null);
  });
  unused.forEach((row) => row.remove());
  markSelection();
  state.lastId = devices.length ? devices[devices.length - 1].id : null;
  $('empty').hidden = devices.length > 0;
  $('empty').textContent = state.silent ? `No device has been silent for ${state.silent}${state.prefix ? ` among ids starting with “${state.prefix}”` : ''}.`
    : state.prefix ? `No device id starts with “${state.prefix}”.` : 'No devices yet.';
  $('prev').disabled = state.stack.length === 0;
  $('next').disabled = !hasNext;
  const first = state.stack.length * state.limit;
  $('page').textContent = devices.length ? `${format(first + 1)}–${format(first + devices.length)}` : '';
}

function markSelection() {
  for (const row of $('devices').tBodies[0].rows) {
    const selected = row.dataset.id === state.device;
    row.classList.toggle('selected', selected);
    if (selected) row.cells[0].firstChild.setAttribute('aria-current', 'true');
    else row.cells[0].firstChild.removeAttribute('aria-current');
  }
}

async function loadTable(signal) {
  const page = await api(
    `/devices${query({ limit: state.limit, after: state.after, prefix: state.prefix, silent_for: state.silent })}`, signal);
  renderDevices(page.devices, Boolean(page.next));
}

// ---- Selected device ---------------------------------------------------------------------------

async function loadDetail(signal) {
  const id = state.device;
  // The summary row of exactly this device: ids sort by scalar, so an id comes first among the
  // ids it prefixes. One request gives latest timestamp, cumulative count and number of readings.
  const found = await api(`/devices${query({ prefix: id, limit: 1 })}`, signal);
  const summary = found.devices[0];
  if (!summary || summary.id !== id) throw new ApiError(404, 'DEVICE_NOT_FOUND', `Device ${id} not found`);
  $('detail-heading').textContent = `Device ${id}`;
  $('sum-latest').textContent = showTime(summary.latest_timestamp);
  $('sum-count').textContent = format(summary.cumulative_count);
  $('sum-readings').textContent = format(summary.readings);
  const range = resolveRange(summary.latest_timestamp);
  showRangeControls(range);
  $('summary').hidden = $('range').hidden = false;
  const answer = await api(devicePath(id, `/buckets${query(range)}`), signal);
  state.chart = { id, range, answer };
  $('chart-box').hidden = false; // before rendering: the chart takes its box's width
  renderChart();
  renderRecent(await loadRecent(id, range, answer.buckets, signal));
  $('recent-box').hidden = false;
}

function showRangeControls(range) {
  for (const button of document.querySelectorAll('[data-preset]')) {
    button.setAttribute('aria-pressed', String(button.dataset.preset === state.range.preset));
  }
  // A preset's step is automatic: the step box stays empty ("auto"); the caption names the step.
  const shown = { ...range, step: state.range.step || '' };
  for (const name of ['from', 'to', 'step']) {
    const input = $(name);
    if (document.activeElement !== input && input.value !== shown[name]) input.value = shown[name];
  }
}

// Recent readings: the last RECENT_ROWS readings of the chart's range. GET /devices/{id} pages in
// ascending order only, so rather than reading the whole range (or trusting "from = range start,
// limit 10000", which shows the oldest rows of a busy range), the chart's bucket answer tells where
// the tail starts: from the latest buckets that together hold RECENT_ROWS readings to the range's
// end, limit 10000, following `next` for at most RECENT_PAGES pages; the last rows are kept.
async function loadRecent(id, range, buckets, signal) {
  let index = buckets.length;
  let needed = RECENT_ROWS;
  while (index > 0 && needed > 0) needed -= Number(buckets[--index].readings);
  if (needed === RECENT_ROWS) return { rows: [], more: false };
  let path = devicePath(id, query({ from: index > 0 ? buckets[index].start : range.from, to: range.to, limit: 10000 }));
  let rows = [];
  for (let page = 0; path && page < RECENT_PAGES; page++) {
    const answer = await api(path, signal);
    rows = rows.concat(Object.entries(answer.data)).slice(-RECENT_ROWS);
    path = typeof answer.next === 'string' && answer.next.startsWith('/') ? answer.next : null;
  }
  return { rows: rows.reverse(), more: Boolean(path) };
}

function renderRecent({ rows, more }) {
  const key = rows.map(([ts, count]) => `${ts}=${count}`).join() + more;
  $('recent-note').textContent = rows.length === 0 ? 'No readings in this range.'
    : more ? `The range's last buckets hold more than ${format(RECENT_PAGES * 10000)} readings; these are not the newest.`
      : `Newest first, up to ${RECENT_ROWS}, ending at the range's end.`;
  if (key === state.recentKey) return;
  state.recentKey = key;
  const fragment = document.createDocumentFragment();
  for (const [ts, count] of rows) {
    const row = document.createElement('tr');
    row.insertCell().textContent = showTime(ts);
    const cell = row.insertCell();
    cell.className = 'num';
    cell.dataset.value = String(count);
    cell.textContent = format(count);
    fragment.append(row);
  }
  $('recent').tBodies[0].replaceChildren(fragment); // one swap: no empty table in between
}

// ---- Chart -------------------------------------------------------------------------------------

function svg(name, attributes = {}, text) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function niceStep(raw) {
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
}

// Axis labels fall on round times (every 10 minutes, 6 hours, ...) at least ~80 px apart.
const LABEL_EVERY = [1, 5, 10, 15, 30, 60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
  172800, 604800, 2592000, 31536000];
function labelInterval(stepS, slot) {
  const wanted = stepS * Math.ceil(80 / slot);
  return LABEL_EVERY.find((s) => s >= wanted && s % stepS === 0) || wanted;
}
function timeLabel(start, every) {
  if (every >= 86400 || start.slice(11, 19) === '00:00:00') return start.slice(5, 10);
  return every < 60 ? start.slice(11, 19) : start.slice(11, 16);
}
const axisNumber = (v) => (v < 1e15 ? compact.format(v) : v.toExponential(0));

// Rebuilt off-document and swapped in one operation; skipped when nothing changed.
function renderChart() {
  if (!state.chart) return;
  const { id, range, answer } = state.chart;
  const buckets = answer.buckets;
  const chart = $('chart');
  const width = Math.max(280, Math.round(chart.parentElement.clientWidth || 640));
  const height = width < 520 ? 220 : 280;
  const key = `${id}|${width}|${answer.step}|${buckets.map((b) => `${b.start}=${b.count}`).join()}`;
  if (key === state.chartKey) return;
  state.chartKey = key;

  const counts = buckets.map((b) => Number(b.count));
  const max = Math.max(0, ...counts);
  const tick = Math.max(1, niceStep(max / 4 || 1));
  const top = Math.max(tick, Math.ceil(max / tick) * tick);
  const margin = { top: 12, right: 12, bottom: 44, left: 30 + 7 * axisNumber(top).length };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const y = (v) => margin.top + plotH - (v / top) * plotH;
  const stepS = stepSeconds(answer.step);
  const total = buckets.reduce((sum, b) => sum + BigInt(b.count), 0n);
  const first = buckets.length ? showTime(buckets[0].start) : showTime(range.from);

  const root = document.createDocumentFragment();
  root.append(
    svg('title', { id: 'chart-title' }, `Count per ${answer.step} bucket for device ${id}`),
    svg('desc', { id: 'chart-desc' }, `${buckets.length} buckets from ${first} UTC; total count ${format(total)}; highest bucket ${format(max)}.`));
  const grid = svg('g', { class: 'grid' });
  for (let v = 0; v <= top; v += tick) {
    grid.append(svg('line', { x1: margin.left, x2: width - margin.right, y1: y(v), y2: y(v) }),
      svg('text', { x: margin.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, axisNumber(v)));
  }
  const bars = svg('g', { class: 'bars' });
  const slot = plotW / Math.max(1, buckets.length);
  const gap = slot > 4 ? Math.min(slot * 0.2, 6) : 0;
  buckets.forEach((b, i) => {
    const h = Math.max(0, margin.top + plotH - y(counts[i]));
    const bar = svg('rect', { class: 'bar', x: (margin.left + i * slot + gap / 2).toFixed(2), y: (margin.top + plotH - h).toFixed(2),
      width: Math.max(0.5, slot - gap).toFixed(2), height: h.toFixed(2) });
    bar.append(svg('title', {}, `${showTime(b.start)} UTC: count ${format(b.count)}, ${format(b.readings)} readings`));
    bars.append(bar);
  });
  const axis = svg('g', { class: 'axis' });
  axis.append(svg('line', { x1: margin.left, x2: width - margin.right, y1: margin.top + plotH, y2: margin.top + plotH }));
  const every = labelInterval(stepS, slot) * 1000;
  buckets.forEach((bucket, i) => {
    if (parseTime(bucket.start) % every !== 0) return;
    const x = margin.left + i * slot;
    axis.append(svg('line', { x1: x, x2: x, y1: margin.top + plotH, y2: margin.top + plotH + 4 }),
      svg('text', { x, y: margin.top + plotH + 16, 'text-anchor': 'middle' }, timeLabel(bucket.start, every / 1000)));
  });
  axis.append(
    svg('text', { class: 'axis-title', x: margin.left + plotW / 2, y: height - 6, 'text-anchor': 'middle' }, `Time (UTC), ${answer.step} buckets`),
    svg('text', { class: 'axis-title', transform: `translate(12 ${margin.top + plotH / 2}) rotate(-90)`, 'text-anchor': 'middle' }, 'Count'));
  root.append(grid, bars, axis);
  chart.setAttribute('viewBox', `0 0 ${width} ${height}`);
  chart.setAttribute('width', width);
  chart.setAttribute('height', height);
  chart.replaceChildren(root);
  $('chart-caption').textContent = `${showTime(range.from)} → ${showTime(range.to)} UTC · step ${answer.step} · total ${format(total)}`;
  for (const format of ['csv', 'ndjson']) {
    $(`export-${format}`).href = devicePath(id, `/export${query({ from: range.from, to: range.to, format })}`);
  }
}

// A download link is followed by the browser itself, which streams the file to disk; with an API
// key it cannot send the header, so the file is fetched with it and handed over as a blob.
async function downloadWithKey(event) {
  const key = storedKey();
  if (!key) return;
  event.preventDefault();
  const link = event.currentTarget;
  try {
    const response = await fetch(link.href, { headers: { Authorization: `Bearer ${key}` }, cache: 'no-store' });
    if (!response.ok) throw new ApiError(response.status, `HTTP ${response.status}`, 'The export was refused.');
    const name = /filename\*=UTF-8''([^;]+)/.exec(response.headers.get('Content-Disposition') || '');
    const url = URL.createObjectURL(await response.blob());
    const anchor = Object.assign(document.createElement('a'), { href: url, download: name ? decodeURIComponent(name[1]) : '' });
    anchor.click();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  } catch (error) {
    setStatus(`Download failed: ${error.message}`, true);
  }
}

// ---- Refresh loop, status, API key -------------------------------------------------------------

function setStatus(message, isError) {
  const status = $('status');
  if (status.textContent !== message) status.textContent = message;
  status.classList.toggle('error', Boolean(isError && message));
}

// Runs `load` after aborting its previous run; resolves to the error (null on success).
async function run(name, load) {
  if (state.aborts[name]) state.aborts[name].abort();
  const controller = new AbortController();
  state.aborts[name] = controller;
  try {
    await load(controller.signal);
    return null;
  } catch (error) {
    return controller.signal.aborted ? 'aborted' : error;
  }
}

async function refresh() {
  clearTimeout(state.timer);
  const generation = ++state.generation;
  const [tableError, detailError] = await Promise.all([
    run('table', loadTable),
    state.device === null ? null : run('detail', loadDetail),
  ]);
  if (generation !== state.generation) return; // a newer refresh took over
  if (!tableError) state.ready.table = true;
  if (!detailError) state.ready.detail = true;
  const error = [tableError, detailError].find((e) => e && e !== 'aborted');
  if (error && error.status === 401) {
    state.needKey = true;
    $('key-form').hidden = false;
    setStatus(storedKey() ? 'The server refused this API key; enter another.' : 'This server needs an API key.', true);
  } else if (error) {
    setStatus(error.code === 'NETWORK' ? error.message : `${error.message} (${error.code})`, true);
  } else {
    setStatus('', false);
    $('updated').textContent = `Updated ${new Date().toLocaleTimeString()}`;
  }
  if (detailError && detailError.status === 404) showDetail(false);
  const done = state.ready.table && (state.device === null || state.ready.detail);
  if (done) document.body.dataset.state = 'ready';
  else if (error) document.body.dataset.state = 'error';
  $('forget-key').hidden = !storedKey();
  if (!state.needKey && !document.hidden) state.timer = setTimeout(refresh, REFRESH_MS);
}

function showDetail(visible) {
  for (const box of ['summary', 'range', 'chart-box', 'recent-box']) $(box).hidden = !visible;
}

// A new selection or range: the chart is not ready until it has rendered again.
function detailChanged() {
  state.ready.detail = false;
  document.body.classList.toggle('has-device', state.device !== null);
  state.chartKey = '';
  if (state.device !== null) document.body.dataset.state = 'loading';
  $('detail-heading').textContent = state.device === null ? 'Select a device' : `Device ${state.device}`;
  if (state.device === null) showDetail(false);
  markSelection();
  writeLocation();
  refresh();
}

function resetPaging() {
  state.after = null;
  state.stack = [];
  refresh();
}

function start() {
  readLocation();
  state.limit = Number($('page-size').value);
  $('silent').value = state.silent;
  if (state.device !== null) $('detail-heading').textContent = `Device ${state.device}`;
  document.body.classList.toggle('has-device', state.device !== null);

  window.addEventListener('hashchange', () => {
    if (!readLocation()) return refresh();
    detailChanged();
    // One column (phones): bring the newly chosen device into view.
    if (matchMedia('(max-width: 999px)').matches) $('detail').scrollIntoView({ block: 'start' });
  });
  $('devices').tBodies[0].addEventListener('click', (event) => {
    const row = event.target.closest('tr');
    if (!row || event.target.closest('a')) return; // links navigate by themselves
    location.hash = `device=${encodeURIComponent(row.dataset.id)}`;
  });
  let typing = 0;
  $('search').addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => { state.prefix = $('search').value; resetPaging(); }, 250);
  });
  $('page-size').addEventListener('change', () => { state.limit = Number($('page-size').value); resetPaging(); });
  $('silent').addEventListener('change', () => { state.silent = $('silent').value; writeLocation(); resetPaging(); });
  $('next').addEventListener('click', () => { state.stack.push(state.after); state.after = state.lastId; refresh(); });
  $('prev').addEventListener('click', () => { state.after = state.stack.pop() ?? null; refresh(); });
  for (const button of document.querySelectorAll('[data-preset]')) {
    button.addEventListener('click', () => { state.range = { preset: button.dataset.preset }; detailChanged(); });
  }
  $('export-csv').addEventListener('click', downloadWithKey);
  $('export-ndjson').addEventListener('click', downloadWithKey);
  $('relative-now').addEventListener('change', (event) => { state.relativeNow = event.target.checked; detailChanged(); });
  $('range').addEventListener('submit', (event) => {
    event.preventDefault();
    state.range = { from: $('from').value.trim(), to: $('to').value.trim(), step: $('step').value.trim() };
    detailChanged();
  });
  $('key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    try { sessionStorage.setItem(KEY_STORAGE, $('api-key').value.trim()); } catch { /* storage off */ }
    $('api-key').value = '';
    $('key-form').hidden = true;
    state.needKey = false;
    refresh();
  });
  $('forget-key').addEventListener('click', () => {
    try { sessionStorage.removeItem(KEY_STORAGE); } catch { /* storage off */ }
    refresh();
  });
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) clearTimeout(state.timer);
    else if (!state.needKey) refresh();
  });
  new ResizeObserver(() => requestAnimationFrame(renderChart)).observe($('chart-box'));
  if (state.device !== null) writeLocation();
  refresh();
}

start();
