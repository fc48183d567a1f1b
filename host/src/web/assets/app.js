// hcal's web app, live: join buttons as they fire and the list after each
// sync (server-sent events from /api/v1/me/stream), and answers sent
// without a reload. Everything from the server is shown with textContent
// or as the server's own escaped HTML; nothing here builds markup from data.
'use strict';

const csrf = () => document.querySelector('meta[name=csrf-token]')?.content ?? '';
const list = () => document.getElementById('meetings');

function safeHref(uri) {
  try {
    const scheme = uri.split(':', 1)[0].toLowerCase();
    return ['https', 'sip', 'sips', 'tel'].includes(scheme) ? uri : null;
  } catch { return null; }
}

let refreshing = null;
async function refresh() {
  const target = list();
  if (!target) return;
  if (refreshing) return refreshing;
  refreshing = (async () => {
    try {
      const response = await fetch(target.dataset.live, { credentials: 'same-origin' });
      if (response.ok) target.innerHTML = await response.text();
      fillBanners();
    } finally { refreshing = null; }
  })();
  return refreshing;
}

function showNotice(text, error) {
  const live = document.getElementById('live');
  if (!live) return;
  const p = document.createElement('p');
  p.className = error ? 'notice error' : 'notice';
  p.setAttribute('role', 'status');
  p.textContent = text;
  live.prepend(p);
  setTimeout(() => p.remove(), 15000);
}

// A banner shown before its meeting's join link was synced gets the link
// once the list has it.
function fillBanners() {
  for (const due of document.querySelectorAll('#live .due')) {
    if (due.querySelector('a.join-now')) continue;
    const card = [...document.querySelectorAll('article.meeting')].find((a) => a.dataset.key === due.dataset.key);
    const href = safeHref(card?.querySelector('a.join')?.getAttribute('href') ?? '');
    if (href) due.append(joinLink(href));
  }
}

function joinLink(href) {
  const join = document.createElement('a');
  join.className = 'button join-now';
  join.href = href;
  join.rel = 'noopener noreferrer';
  join.target = '_blank';
  join.textContent = 'Join now';
  return join;
}

// A join button that fired: prominent, with the meeting's title and link.
function showJoinButton(button) {
  const live = document.getElementById('live');
  if (!live) return;
  const card = [...document.querySelectorAll('article.meeting')].find((a) => a.dataset.key === button.meeting_key);
  const title = card?.querySelector('.title')?.firstChild?.textContent?.trim() || 'A meeting';
  const href = safeHref(card?.querySelector('a.join')?.getAttribute('href') ?? '');
  const due = document.createElement('div');
  due.className = 'due';
  due.dataset.key = button.meeting_key;
  const words = document.createElement('span');
  // The start as the card shows it: in the person's Google time zone.
  const starts = card?.querySelector('.when')?.textContent?.split('–')[0]?.trim();
  words.textContent = starts && /^\d\d:\d\d$/.test(starts) ? `${title} starts at ${starts}` : `${title} is about to start`;
  due.append(words);
  if (href) due.append(joinLink(href));
  live.prepend(due);
  // The list may not have the meeting (or its link) yet: fetch it now.
  if (!href) refresh();
}

document.addEventListener('submit', async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.classList.contains('rsvp')) return;
  event.preventDefault();
  const answer = event.submitter?.value;
  const seen = form.querySelector('input[name=seen_start]')?.value;
  const key = form.dataset.key;
  const body = { response: answer };
  if (seen) body.seen_start = Number(seen);
  const response = await fetch(`/api/v1/me/meetings/${encodeURIComponent(key)}/rsvp`, {
    method: 'POST', credentials: 'same-origin',
    headers: { 'content-type': 'application/json', 'x-csrf-token': csrf() },
    body: JSON.stringify(body),
  });
  if (response.ok) {
    const mark = form.querySelector('.answer');
    if (mark) {
      mark.dataset.answer = answer;
      mark.textContent = { accepted: 'Going', tentative: 'Maybe', declined: 'Not going' }[answer] ?? answer;
    }
    showNotice('Your answer is saved in Google Calendar.');
  } else {
    let message = 'Your answer could not be saved; try again.';
    try { message = (await response.json()).error.message; } catch { /* keep the default */ }
    showNotice(message, true);
    refresh();
  }
});

if (list() && window.EventSource) {
  const events = new EventSource('/api/v1/me/stream');
  events.addEventListener('join_button', (e) => { try { showJoinButton(JSON.parse(e.data)); } catch { /* ignore */ } });
  events.addEventListener('meetings', () => refresh());
  events.addEventListener('presence', () => window.location.reload());
  document.body.dataset.live = 'connecting';
  events.addEventListener('open', () => { document.body.dataset.live = 'on'; });
}
