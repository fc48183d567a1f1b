// The demo page: a Google events.list page → the core (in this page, as
// WebAssembly) → the week as a timeline with each meeting's join button,
// keyword and links. `?events=URL&user=EMAIL&week=YYYY-MM-DD&now=RFC3339`
// loads a page at once (the headless test uses it).
import { load } from '../index.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const DAY = 86_400_000;
let core;

function status(text, error = false) {
  $('status').textContent = text;
  $('status').classList.toggle('error', error);
}

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attributes)) {
    if (k === 'class') node.className = v;
    else if (k === 'style') node.style.cssText = v;
    else node.setAttribute(k, v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

const hourPxOf = () => parseFloat(getComputedStyle(document.documentElement).getPropertyValue('--hour')) || 64;
const time = (date) => date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
const localMidnight = (date) => new Date(date.getFullYear(), date.getMonth(), date.getDate());

function render(list, weekStart) {
  const view = $('week-view');
  view.replaceChildren();
  const grid = el('div', { class: 'week' });
  const days = [...Array(7)].map((_, i) => new Date(weekStart.getFullYear(), weekStart.getMonth(), weekStart.getDate() + i));
  grid.append(el('div', { class: 'day-head' }));
  for (const day of days) {
    grid.append(el('div', { class: 'day-head' }, day.toLocaleDateString([], { weekday: 'short' }),
      el('small', {}, day.toLocaleDateString([], { day: 'numeric', month: 'short' }))));
  }
  grid.append(el('div', { class: 'all-day' }));
  const allDay = days.map(() => el('div', { class: 'all-day' }));
  grid.append(...allDay);
  // The hours that matter: the working day, widened to every meeting.
  const timed = list.meetings.filter((m) => !m.all_day).map((m) => [new Date(m.start), new Date(m.end)]);
  const first = Math.min(8, ...timed.map(([s]) => s.getHours()));
  const last = Math.max(18, ...timed.map(([s, e]) => (e.getDate() === s.getDate() ? e.getHours() + (e.getMinutes() ? 1 : 0) : 24)));
  const hours = el('div', { class: 'hours' }, ...[...Array(last - first)].map((_, h) => el('div', {}, `${String(first + h).padStart(2, '0')}:00`)));
  const columns = days.map(() => el('div', { class: 'day', style: `height: ${(last - first) * hourPxOf()}px` }));
  grid.append(hours, ...columns);
  view.append(grid);

  const buttons = new Map(list.join_buttons.map((b) => [b.meeting_key, b]));
  const hourPx = hourPxOf();
  let shown = 0;
  for (const meeting of list.meetings) {
    const start = new Date(meeting.all_day ? `${meeting.start}T00:00:00` : meeting.start);
    const end = new Date(meeting.all_day ? `${meeting.end}T00:00:00` : meeting.end);
    const index = Math.floor((localMidnight(start) - localMidnight(weekStart)) / DAY);
    if (index < 0 || index > 6) continue;
    const button = buttons.get(meeting.key);
    const classes = ['meeting'];
    if (meeting.join?.service === 'webex') classes.push('webex');
    if (meeting.my_response === 'declined') classes.push('declined');
    const card = el('article', { class: classes.join(' '), 'data-key': meeting.key },
      el('h3', {}, meeting.title ?? '(no title)',
        meeting.keyword ? el('span', { class: 'keyword', title: 'the keyword in the location' }, meeting.keyword) : null),
      meeting.all_day ? null : el('div', { class: 'when' }, `${time(start)}–${time(end)}`),
      meeting.join
        ? el('a', { class: 'join', href: meeting.join.uri, target: '_blank', rel: 'noopener', 'data-service': meeting.join.service }, `Join (${meeting.join.service})`)
        : null,
      button ? el('div', { class: 'button-at' }, `join button at ${time(new Date(button.at))} for ${button.targets.length}`) : null,
      meeting.links.length > 1
        ? el('ul', { class: 'links' }, ...meeting.links.slice(1).map((l) => el('li', { title: l.uri }, `${l.service}: ${l.uri}`)))
        : null);
    if (meeting.all_day) {
      card.classList.add('all-day-item');
      allDay[index].append(card);
    } else {
      const minutes = (start.getHours() - first) * 60 + start.getMinutes();
      const length = Math.max(30, (end - start) / 60_000);
      card.style.top = `${(minutes / 60) * hourPx}px`;
      card.style.height = `${(length / 60) * hourPx - 2}px`;
      columns[index].append(card);
    }
    shown++;
  }
  $('errors').replaceChildren(...list.errors.map((e) => el('li', {}, `${e.event_id ?? 'an item'}: ${e.error.code} — ${e.error.message}`)));
  $('problems').hidden = list.errors.length === 0;
  // Scroll to the working day.
  view.scrollIntoView({ block: 'start' });
  return shown;
}

function show(json) {
  const user = $('user').value.trim();
  const weekStart = new Date(`${$('week').value}T00:00:00`);
  const request = {
    user,
    window: { from: weekStart.toISOString(), to: new Date(weekStart.getTime() + 7 * DAY).toISOString() },
    now: params.get('now') ?? new Date().toISOString(),
  };
  try {
    const started = performance.now();
    const list = core.processPages(json, request);
    const took = performance.now() - started;
    const shown = render(list, weekStart);
    status(`${shown} meetings for ${user} · ${list.join_buttons.length} join buttons · processed in ${took.toFixed(1)} ms by the component`);
    document.body.dataset.state = 'ready';
    document.body.dataset.meetings = String(shown);
  } catch (e) {
    status(e.message, true);
    document.body.dataset.state = 'error';
  }
}

async function fetchAndShow(url) {
  status(`Loading ${url}…`);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  show(await response.text());
}

try {
  core = await load();
  status('Ready: load a Google events.list JSON file, paste one, or load the demo week.');
  if (params.has('user')) $('user').value = params.get('user');
  if (params.has('week')) $('week').value = params.get('week');
  $('file').addEventListener('change', async () => {
    const file = $('file').files[0];
    if (file) show(await file.text());
  });
  $('use-paste').addEventListener('click', () => show($('paste').value));
  $('sample').addEventListener('click', () => fetchAndShow('../../fixtures/demo/events.json').catch((e) => status(e.message, true)));
  if (params.has('events')) await fetchAndShow(params.get('events'));
} catch (e) {
  status(`The component did not load: ${e.message}`, true);
  document.body.dataset.state = 'error';
}
