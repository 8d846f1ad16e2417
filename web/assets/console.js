/*
 * Attune agent console: the queue, the conversation view and the reply box, in real time over
 * the agent websocket (docs/protocol.md, "Agent console"). Plain JS, no dependencies, no build.
 *
 * Invariants worth keeping when editing:
 *  - message text, names and evidence only ever reach the DOM through textContent;
 *  - suggestions and canned responses only fill the reply box: the agent always sends;
 *  - internal notes are sent as "note" frames only, never as "message";
 *  - rendered messages are keyed by seq, so a reopen or a replay never duplicates anything.
 */
(function () {
  'use strict';

  var BUSINESS = document.documentElement.getAttribute('data-business') || '';
  var LONG_WAIT = 120; // seconds: a waiting row is marked as a long wait from here on

  var $ = function (id) { return document.getElementById(id); };
  var el = function (tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  };
  var str = function (v, max) { return typeof v === 'string' ? v.slice(0, max || 2000) : ''; };
  var num = function (v) { return typeof v === 'number' && isFinite(v) ? v : 0; };

  var REASONS = {
    asked_for_person: 'Asked for a person',
    frustration: 'Frustration',
    needs_person: 'Needs a person',
    unresolved: 'Unresolved',
    assistant_unavailable: 'Assistant unavailable',
    assistant_declined: 'Assistant declined',
  };
  var TONES = {
    frustration: 'Frustrated', anger: 'Angry', anxiety: 'Anxious', urgency: 'Urgent',
    confusion: 'Confused', delight: 'Pleased', sadness: 'Sad', joy: 'Happy', gratitude: 'Grateful',
    positive: 'Positive', negative: 'Negative', neutral: 'Neutral',
  };
  var RESOLUTIONS = { resolved: 'Resolved', no_response: 'No response', spam: 'Spam', other: 'Other' };

  /* ---------- state ---------- */

  var csrf = '';
  var me = null;              // Agent JSON
  var presence = 'online';
  var ws = null, connected = false, wantSocket = false;
  var attempt = 0, retryTimer = 0;
  var queue = { waiting: [], assigned: [], agents: [] };
  var queueAt = 0;            // Date.now() when the last queue frame arrived
  var firstQueue = true;
  var announced = new Set();  // conversations already announced as new hand-offs
  var offers = new Map();     // conversation id -> {reason, evidence, until}
  var unread = new Map();     // conversation id -> count of messages not seen
  var pendingReq = new Map(); // client frame id -> {kind, conversation_id, el?, text?}
  var open = null;            // {id, state, owner, bySeq: Map, handoff, suggestions, canned}
  var openRequested = '';
  var visitorTypingTimer = 0;

  /* ---------- HTTP ---------- */

  function api(method, path, body) {
    var headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
    return fetch(path, {
      method: method, headers: headers, credentials: 'same-origin', cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (r) {
      if (r.status === 204) return { status: 204, body: null };
      return r.json().catch(function () { return null; }).then(function (j) { return { status: r.status, body: j }; });
    });
  }

  function checkSession() {
    return api('GET', '/console/api/me').then(function (r) {
      if (r.status === 200 && r.body && r.body.agent) { signedIn(r.body); return true; }
      showLogin(r.status === 401 ? '' : 'The server could not be reached (' + r.status + ').');
      return false;
    }, function () {
      showLogin('The server could not be reached. Check your connection and reload.');
      return false;
    });
  }

  function signedIn(b) {
    me = b.agent;
    csrf = str(b.csrf, 200);
    // A new sign-in starts from a clean slate: the first queue is the state, not news.
    firstQueue = true;
    offers.clear();
    announced.clear();
    unread.clear();
    $('login-view').hidden = true;
    $('app').hidden = false;
    $('top-tools').hidden = false;
    $('me-name').textContent = str(me.name, 80) || str(me.login, 80);
    updateNotifyButton();
    connect();
  }

  function showLogin(msg) {
    me = null;
    csrf = '';
    wantSocket = false;
    clearTimeout(retryTimer);
    retryTimer = 0;
    if (ws) { var s = ws; ws = null; s.close(1000, 'signed out'); }
    connected = false;
    $('app').hidden = true;
    $('top-tools').hidden = true;
    $('login-view').hidden = false;
    var err = $('login-error');
    err.textContent = msg || '';
    err.hidden = !msg;
    $('login-name').focus();
  }

  $('login-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var login = $('login-name').value.trim(), pw = $('login-password').value;
    var err = $('login-error');
    if (!login || !pw) {
      err.textContent = 'Enter your login and password.';
      err.hidden = false;
      (login ? $('login-password') : $('login-name')).focus();
      return;
    }
    var btn = $('login-submit');
    btn.disabled = true;
    unlockAudio(); // the sign-in click is a user gesture: the beep may play from now on
    api('POST', '/console/api/login', { login: login, password: pw }).then(function (r) {
      btn.disabled = false;
      if (r.status === 200 && r.body && r.body.agent) {
        $('login-password').value = '';
        err.hidden = true;
        signedIn(r.body);
        $('conv').focus();
        return;
      }
      err.textContent = (r.body && str(r.body.error, 300)) || 'Sign-in failed (' + r.status + ').';
      err.hidden = false;
      $('login-password').focus();
      $('login-password').select();
    }, function () {
      btn.disabled = false;
      err.textContent = 'The server could not be reached.';
      err.hidden = false;
    });
  });

  $('logout-btn').addEventListener('click', function () {
    api('POST', '/console/api/logout').then(function () { resetView(); showLogin(''); },
      function () { announce('Could not log out: the server could not be reached.', true); });
  });

  /* ---------- socket ---------- */

  function wsURL() {
    return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws/agent';
  }

  function send(obj) {
    if (!ws || !connected || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(obj));
    return true;
  }

  var reqN = 0;
  function request(kind, obj, extra) {
    obj.id = 'c' + (++reqN) + '-' + Date.now().toString(36);
    var info = extra || {};
    info.kind = kind;
    info.conversation_id = obj.conversation_id || '';
    pendingReq.set(obj.id, info);
    if (!send(obj)) {
      pendingReq.delete(obj.id);
      showError('Not connected to the server: try again in a moment.');
      return '';
    }
    return obj.id;
  }

  function connect() {
    wantSocket = true;
    if (ws || retryTimer) return;
    var sock;
    try { sock = new WebSocket(wsURL()); } catch (e) { scheduleReconnect(); return; }
    ws = sock;
    setConn(attempt ? 'Reconnecting…' : 'Connecting…', 'warn');
    sock.onmessage = function (e) { if (ws === sock && typeof e.data === 'string') onFrame(e.data); };
    sock.onclose = function (e) {
      if (ws !== sock) return;
      ws = null;
      connected = false;
      showVisitorTyping(false);
      if (!wantSocket) return;
      setConn('Disconnected: reconnecting…', 'bad');
      if (e.code === 4401) { // the server ended the session (expired, logged out elsewhere)
        resetView();
        showLogin('Your session has ended' + (e.reason ? ' (' + String(e.reason).slice(0, 120) + ')' : '') + '. Please sign in again.');
        return;
      }
      // A refused upgrade looks like any other close: ask whether the session is still good.
      if (e.code === 1006 || e.code === 1008) {
        api('GET', '/console/api/me').then(function (r) {
          if (r.status === 401) showLogin('Your session has ended. Please sign in again.');
          else scheduleReconnect();
        }, scheduleReconnect);
      } else {
        scheduleReconnect();
      }
    };
  }

  // Exponential backoff with equal jitter: 0.5 s doubling to 30 s.
  function scheduleReconnect() {
    if (retryTimer || ws || !wantSocket) return;
    var cap = Math.min(30000, 500 * Math.pow(2, attempt));
    attempt++;
    retryTimer = setTimeout(function () { retryTimer = 0; connect(); }, cap / 2 + Math.random() * cap / 2);
  }
  function reconnectNow() {
    if (wantSocket && !ws) { clearTimeout(retryTimer); retryTimer = 0; connect(); }
  }
  window.addEventListener('online', reconnectNow);

  function setConn(text, kind) {
    var c = $('conn');
    c.textContent = text;
    c.className = 'conn conn--' + kind;
  }

  function onFrame(data) {
    var m;
    try { m = JSON.parse(data); } catch (e) { return; }
    if (!m || typeof m !== 'object') return;
    switch (m.type) {
      case 'welcome': onWelcome(m); break;
      case 'queue': onQueue(m); break;
      case 'offer': onOffer(m); break;
      case 'alert': onAlert(m); break;
      case 'conversation': onConversation(m); break;
      case 'message': onMessage(m); break;
      case 'typing': onTyping(m); break;
      case 'note': onNote(m); break;
      case 'assigned': onAssigned(m); break;
      case 'returned': {
        // A conversation leaves an agent either for the bot or back to the queue (agent gone,
        // released, transferred to a team): say which.
        var toQueue = m.state === 'queued';
        var why = str(m.why, 200);
        onEnded(m, toQueue ? 'queued' : 'bot', (toQueue ? 'Back in the queue' : 'Returned to the bot') + (why ? ': ' + why : ''));
        break;
      }
      case 'closed': onEnded(m, 'closed', 'Closed' + (RESOLUTIONS[m.resolution] ? ': ' + RESOLUTIONS[m.resolution] : '')); break;
      case 'suggestions':
        if (open && m.conversation_id === open.id) { renderSuggestions(m.suggestions); renderSummary(m.summary); }
        break;
      case 'ack': onAck(m); break;
      case 'error': onError(m); break;
      // Unknown types are ignored so that a newer server does not break an open console.
    }
  }

  function onWelcome(m) {
    connected = true;
    attempt = 0;
    setConn('Connected', 'ok');
    if (m.agent && typeof m.agent === 'object') me = m.agent;
    // Our choice wins over the server's default after a reconnect.
    var want = presence;
    presence = m.presence === 'away' ? 'away' : 'online';
    if (want !== presence) setPresence(want);
    else renderPresence();
    if (open) send({ type: 'open', conversation_id: open.id }); // catch up on what we missed
    // Replies not yet acknowledged may have died with the old socket: send them again with the
    // same id, which the server recognises, so each is stored once and none is lost.
    pendingReq.forEach(function (info, id) {
      if (info.kind === 'message' && typeof info.text === 'string') {
        send({ type: 'message', id: id, conversation_id: info.conversation_id, text: info.text });
      }
    });
  }

  /* ---------- presence ---------- */

  function setPresence(p) {
    presence = p;
    renderPresence();
    send({ type: 'presence', presence: p });
  }
  function renderPresence() {
    $('presence-online').setAttribute('aria-pressed', String(presence === 'online'));
    $('presence-away').setAttribute('aria-pressed', String(presence === 'away'));
  }
  ['presence-online', 'presence-away'].forEach(function (id) {
    $(id).addEventListener('click', function () { setPresence($(id).getAttribute('data-presence')); });
  });

  /* ---------- queue ---------- */

  function onQueue(m) {
    var waiting = Array.isArray(m.waiting) ? m.waiting.filter(function (w) {
      return w && typeof w.conversation_id === 'string' && w.conversation_id;
    }) : [];
    waiting.sort(function (a, b) { return num(a.position) - num(b.position) || num(b.priority) - num(a.priority); });
    queue.waiting = waiting;
    queue.assigned = Array.isArray(m.assigned) ? m.assigned.filter(function (a) { return a && typeof a.conversation_id === 'string'; }) : [];
    queue.agents = Array.isArray(m.agents) ? m.agents.filter(function (a) { return a && typeof a.id === 'string'; }) : [];
    queueAt = Date.now();
    var ids = new Set();
    waiting.forEach(function (w) {
      ids.add(w.conversation_id);
      if (me && w.offered_to === me.id && !offers.has(w.conversation_id)) {
        offers.set(w.conversation_id, { reason: w.reason, evidence: w.evidence, until: 0 });
      }
      if (!firstQueue && !announced.has(w.conversation_id)) newHandoff(w);
      announced.add(w.conversation_id);
    });
    offers.forEach(function (o, id) {
      var w = waiting.filter(function (x) { return x.conversation_id === id; })[0];
      if (!w || (me && w.offered_to && w.offered_to !== me.id)) offers.delete(id);
    });
    announced.forEach(function (id) { if (!ids.has(id)) announced.delete(id); });
    firstQueue = false;
    renderQueue();
  }

  function onOffer(m) {
    var id = str(m.conversation_id, 200);
    if (!id) return;
    var secs = num(m.expires_in_seconds);
    offers.set(id, { reason: m.reason, evidence: m.evidence, until: secs > 0 ? Date.now() + secs * 1000 : 0 });
    var w = findWaiting(id) || { conversation_id: id, reason: m.reason, evidence: m.evidence };
    announced.add(id);
    alertAgent('Offered to you: ' + reasonText(w.reason) + (str(m.evidence, 200) ? ' (' + str(m.evidence, 200) + ')' : '') +
      '. Press a to accept.', 'New hand-off offered to you');
    renderQueue();
  }

  function onAlert(m) {
    var id = str(m.conversation_id, 200);
    var text = str(m.message, 300) || ('A visitor has waited ' + fmtDuration(num(m.waiting_seconds)) + '.');
    alertAgent(text, 'Long wait');
    var row = document.querySelector('[data-cid="' + cssEscape(id) + '"]');
    if (row) row.classList.add('row--alert');
  }

  function newHandoff(w) {
    alertAgent('New hand-off: ' + reasonText(w.reason) + (w.intent ? ' · ' + str(w.intent, 80) : '') +
      (w.tone && w.tone.dominant ? ' · ' + toneName(w.tone.dominant) : ''), 'New hand-off');
  }

  function findWaiting(id) {
    return queue.waiting.filter(function (w) { return w.conversation_id === id; })[0] || null;
  }
  function reasonText(r) { return REASONS[r] || (typeof r === 'string' && r ? r.replace(/_/g, ' ') : 'Hand-off'); }
  function toneName(t) { return TONES[t] || (typeof t === 'string' ? t.replace(/_/g, ' ') : ''); }
  function toneClass(t) { return 'tone tone--' + (TONES[t] ? t : 'other'); }
  function agentName(id) {
    if (me && id === me.id) return str(me.name, 80) || 'You';
    var a = queue.agents.filter(function (x) { return x.id === id; })[0];
    return a ? str(a.name, 80) : '';
  }

  // A tone badge says the tone in words; the colour only repeats it.
  function toneBadge(tone) {
    if (!tone || typeof tone.dominant !== 'string' || !tone.dominant) return null;
    var pct = Math.round(Math.max(0, Math.min(1, num(tone.intensity))) * 100);
    if (tone.dominant === 'neutral') return el('span', toneClass('neutral'), toneName('neutral'));
    var b = el('span', toneClass(tone.dominant), toneName(tone.dominant) + ' ' + pct + '%');
    b.title = toneName(tone.dominant) + ', intensity ' + pct + '%';
    return b;
  }

  function renderQueue() {
    var list = $('waiting-list');
    var focusedCid = document.activeElement && document.activeElement.closest &&
      document.activeElement.closest('[data-cid]') ? document.activeElement.closest('[data-cid]').getAttribute('data-cid') : '';
    var focusedRole = document.activeElement ? document.activeElement.getAttribute('data-role') : '';
    // Which list the focused row is in, and where: if the row leaves that list (another agent
    // accepted it, the chat was closed), the focus goes to the row now in its place.
    var focusedRow = focusedCid ? document.activeElement.closest('[data-cid]') : null;
    var focusedList = focusedRow ? focusedRow.parentElement : null;
    var focusedAt = focusedList ? Array.prototype.indexOf.call(focusedList.children, focusedRow) : -1;
    list.textContent = '';
    queue.waiting.forEach(function (w) {
      var id = w.conversation_id;
      var mine = offers.has(id);
      var li = el('li', 'row' + (mine ? ' row--offer' : '') + (open && open.id === id ? ' row--open' : ''));
      li.setAttribute('data-cid', id);
      var main = el('button', 'row-main');
      main.type = 'button';
      main.setAttribute('data-role', 'open');
      if (open && open.id === id) main.setAttribute('aria-current', 'true');
      var line1 = el('span', 'row-line');
      line1.appendChild(el('span', 'pos', '#' + (num(w.position) || '?')));
      line1.appendChild(el('span', 'reason', reasonText(w.reason)));
      var badge = toneBadge(w.tone);
      if (badge) line1.appendChild(badge);
      main.appendChild(line1);
      var line2 = el('span', 'row-line row-sub');
      var wait = el('span', 'wait');
      wait.setAttribute('data-wait', String(num(w.waiting_seconds)));
      line2.appendChild(wait);
      if (w.intent) line2.appendChild(el('span', 'intent', str(w.intent, 80)));
      line2.appendChild(el('span', 'prio', 'priority ' + num(w.priority).toFixed(2)));
      main.appendChild(line2);
      if (w.evidence) {
        var ev = el('span', 'row-evidence', str(w.evidence, 300));
        ev.title = str(w.evidence, 300);
        main.appendChild(ev);
      }
      if (w.email) main.appendChild(el('span', 'row-sub', 'Left an email: ' + str(w.email, 200)));
      if (mine) main.appendChild(el('span', 'offer-tag', 'Offered to you'));
      else if (w.offered_to) main.appendChild(el('span', 'row-sub', 'Offered to ' + (agentName(w.offered_to) || 'another agent')));
      li.appendChild(main);
      var acts = el('span', 'row-acts');
      var acc = el('button', 'btn btn--small btn--primary', 'Accept');
      acc.type = 'button';
      acc.setAttribute('data-role', 'accept');
      acc.setAttribute('aria-label', 'Accept conversation #' + (num(w.position) || '') + ', ' + reasonText(w.reason));
      acc.addEventListener('click', function () { accept(id); });
      acts.appendChild(acc);
      if (mine) {
        var dec = el('button', 'btn btn--small', 'Decline');
        dec.type = 'button';
        dec.setAttribute('data-role', 'decline');
        dec.addEventListener('click', function () { decline(id); });
        acts.appendChild(dec);
      }
      li.appendChild(acts);
      main.addEventListener('click', function () { openConversation(id); });
      list.appendChild(li);
    });
    $('waiting-count').textContent = String(queue.waiting.length);
    $('waiting-empty').hidden = queue.waiting.length > 0;

    var mineList = $('mine-list'), others = $('others-list');
    mineList.textContent = '';
    others.textContent = '';
    var nMine = 0, nOthers = 0;
    queue.assigned.forEach(function (a) {
      var isMine = me && a.agent_id === me.id;
      var li = el('li', 'row' + (open && open.id === a.conversation_id ? ' row--open' : ''));
      li.setAttribute('data-cid', a.conversation_id);
      var b = el('button', 'row-main');
      b.type = 'button';
      b.setAttribute('data-role', 'open');
      if (open && open.id === a.conversation_id) b.setAttribute('aria-current', 'true');
      b.appendChild(el('span', 'row-line', 'Conversation ' + shortId(a.conversation_id)));
      if (!isMine) b.appendChild(el('span', 'row-sub', 'with ' + (str(a.agent_name, 80) || agentName(a.agent_id) || 'another agent')));
      var n = unread.get(a.conversation_id) || 0;
      if (isMine && n) b.appendChild(el('span', 'unread', n + ' new'));
      b.addEventListener('click', function () { openConversation(a.conversation_id); });
      li.appendChild(b);
      if (isMine) { mineList.appendChild(li); nMine++; } else { others.appendChild(li); nOthers++; }
    });
    $('mine-count').textContent = String(nMine);
    $('mine-empty').hidden = nMine > 0;
    $('others-count').textContent = String(nOthers);

    var ag = $('agents-list');
    ag.textContent = '';
    queue.agents.forEach(function (a) {
      var p = a.presence === 'online' || a.presence === 'away' ? a.presence : 'offline';
      var li = el('li', 'agent agent--' + p);
      li.appendChild(el('span', 'dot', ''));
      li.appendChild(el('span', 'agent-name', str(a.name, 80) + (me && a.id === me.id ? ' (you)' : '')));
      li.appendChild(el('span', 'agent-meta', p + ' · ' + num(a.active) + '/' + num(a.capacity)));
      ag.appendChild(li);
    });
    tick();
    if (focusedList) keepRowFocus(focusedList, focusedCid, focusedRole || 'open', focusedAt);
    updateOpenHeader();
  }

  // Keeps the keyboard where it was across a re-render of the queue: on the same row of the same
  // list, or, when that row has left the list, on the row now in its place (the last one if it
  // was the last), or on the list's heading when the list is empty; never on the page's body,
  // and never following the row into another list the agent was not looking at.
  function keepRowFocus(list, cid, role, at) {
    var rows = list.children;
    var row = list.querySelector('[data-cid="' + cssEscape(cid) + '"]');
    if (!row && rows.length) row = rows[Math.min(Math.max(at, 0), rows.length - 1)];
    if (row) {
      var target = row.querySelector('[data-role="' + role + '"]') || row.querySelector('[data-role="open"]');
      if (target) { target.focus(); return; }
    }
    var heading = $(list.id.replace(/-list$/, '-h'));
    if (!heading) return;
    heading.tabIndex = -1;
    heading.focus();
  }

  function tick() {
    var elapsed = queueAt ? (Date.now() - queueAt) / 1000 : 0;
    var rows = document.querySelectorAll('#waiting-list .wait');
    for (var i = 0; i < rows.length; i++) {
      var s = Number(rows[i].getAttribute('data-wait')) + elapsed;
      rows[i].textContent = 'waiting ' + fmtDuration(s) + (s >= LONG_WAIT ? ' · long wait' : '');
      rows[i].classList.toggle('wait--long', s >= LONG_WAIT);
    }
  }
  setInterval(tick, 1000);

  function fmtDuration(s) {
    s = Math.max(0, Math.floor(s));
    if (s < 60) return s + ' s';
    var m = Math.floor(s / 60);
    if (m < 60) return m + ' min ' + (s % 60 < 10 ? '0' : '') + (s % 60) + ' s';
    return Math.floor(m / 60) + ' h ' + (m % 60) + ' min';
  }
  function shortId(id) { return str(id, 200).slice(0, 8); }
  function cssEscape(s) { return window.CSS && CSS.escape ? CSS.escape(s) : String(s).replace(/["\\]/g, '\\$&'); }

  function accept(id) {
    unlockAudio();
    request('accept', { type: 'accept', conversation_id: id });
  }
  function decline(id) {
    send({ type: 'decline', conversation_id: id });
    offers.delete(id);
    renderQueue();
  }
  function topOffer() {
    var w = queue.waiting.filter(function (x) { return offers.has(x.conversation_id); })[0] || queue.waiting[0];
    return w ? w.conversation_id : '';
  }

  /* ---------- alerts: visible, spoken, desktop, sound ---------- */

  var announceTimer = 0;
  function announce(text, assertive) {
    var a = $('announce');
    a.textContent = text;
    a.hidden = false;
    clearTimeout(announceTimer);
    announceTimer = setTimeout(function () { a.hidden = true; a.textContent = ''; }, 12000);
    if (assertive) { $('live-assertive').textContent = ''; $('live-assertive').textContent = text; }
  }

  function alertAgent(text, title) {
    announce(text, false);
    beep();
    if (window.Notification && Notification.permission === 'granted' && (document.hidden || !document.hasFocus())) {
      try {
        var n = new Notification(title + ' · ' + BUSINESS, { body: text, tag: 'attune-' + title });
        n.onclick = function () { window.focus(); n.close(); };
      } catch (e) { /* some browsers only allow notifications from a service worker */ }
    }
  }

  var audio = null;
  function unlockAudio() {
    var AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) return;
    try {
      if (!audio) audio = new AC();
      if (audio.state === 'suspended') audio.resume();
    } catch (e) { audio = null; }
  }
  // A short two-note chime, made on the fly: no audio file to fetch or to allow in the CSP.
  function beep() {
    if (!audio || audio.state !== 'running') return;
    var t = audio.currentTime;
    [[880, 0], [1175, 0.12]].forEach(function (n) {
      var o = audio.createOscillator(), g = audio.createGain();
      o.type = 'sine';
      o.frequency.value = n[0];
      g.gain.setValueAtTime(0.0001, t + n[1]);
      g.gain.exponentialRampToValueAtTime(0.18, t + n[1] + 0.02);
      g.gain.exponentialRampToValueAtTime(0.0001, t + n[1] + 0.16);
      o.connect(g);
      g.connect(audio.destination);
      o.start(t + n[1]);
      o.stop(t + n[1] + 0.18);
    });
  }
  document.addEventListener('pointerdown', unlockAudio, { once: true });
  document.addEventListener('keydown', unlockAudio, { once: true });

  function updateNotifyButton() {
    var b = $('notify-btn');
    if (!window.Notification) { b.hidden = true; return; }
    var p = Notification.permission;
    if (p === 'granted' && !b.hidden && document.activeElement === b) {
      // The button goes away with the focus on it: say it worked, keep the keyboard in the bar.
      $('help-btn').focus();
      announce('Desktop alerts are on.', false);
    }
    b.hidden = p === 'granted';
    b.disabled = p === 'denied';
    b.textContent = p === 'denied' ? 'Desktop alerts blocked' : 'Enable desktop alerts';
  }
  $('notify-btn').addEventListener('click', function () {
    unlockAudio();
    if (!window.Notification) return;
    var r = Notification.requestPermission(updateNotifyButton);
    if (r && r.then) r.then(updateNotifyButton);
  });

  /* ---------- conversation view ---------- */

  function openConversation(id) {
    if (!id) return;
    openRequested = id;
    unread.delete(id);
    request('open', { type: 'open', conversation_id: id });
  }

  function resetView() {
    open = null;
    openRequested = '';
    $('log').textContent = '';
    $('log').hidden = true;
    $('reply').hidden = true;
    $('side').hidden = true;
    $('conv-placeholder').hidden = false;
    $('conv-title').textContent = 'No conversation open';
    $('conv-state').textContent = '';
    $('conv-actions').hidden = true;
    $('conv-error').hidden = true;
    showVisitorTyping(false);
  }

  function onConversation(m) {
    var id = str(m.conversation_id, 200);
    if (!id) return;
    var same = open && open.id === id;
    if (!same && openRequested !== id) return; // an answer to an open we have since replaced
    openRequested = '';
    var keepDraft = same ? $('reply-input').value : '';
    // The same conversation again (a reconnect catching up): keep what is on screen, replies
    // still sending included, and add only what is new. Rebuilding the transcript would drop the
    // pending replies and have the whole live log read out again.
    open = { id: id, state: m.state, owner: str(m.owner, 200), bySeq: same ? open.bySeq : new Map(), handoff: m.handoff || null };
    $('conv-placeholder').hidden = true;
    $('conv-error').hidden = true;
    var log = $('log');
    var msgs = Array.isArray(m.messages) ? m.messages : [];
    if (same) {
      var atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
      msgs.forEach(function (x) { addMessage(x, true); });
      if (atBottom) log.scrollTop = log.scrollHeight;
    } else {
      // A conversation just opened: its transcript is built in a new, detached #log that then
      // replaces the old one whole. Filling the live log already on the page would have a screen
      // reader read the whole history out; only messages arriving from now on are announced.
      var fresh = log.cloneNode(false);
      msgs.forEach(function (x) { addMessage(x, false, fresh); });
      fresh.hidden = false;
      log.replaceWith(fresh);
      fresh.scrollTop = fresh.scrollHeight;
    }
    renderHandoff(m.handoff);
    renderNotes(Array.isArray(m.notes) ? m.notes : []);
    renderEarlier(Array.isArray(m.earlier) ? m.earlier : []);
    renderSuggestions(m.suggestions);
    renderCanned(m.canned);
    $('side').hidden = false;
    $('reply').hidden = false;
    $('reply-input').value = keepDraft;
    updateOpenHeader();
    renderQueue();
    if (!same) $('conv').focus();
  }

  function updateOpenHeader() {
    if (!open) return;
    var focused = document.activeElement;
    var w = findWaiting(open.id);
    var mine = me && open.owner === me.id;
    var title = 'Conversation ' + shortId(open.id);
    if (open.handoff && open.handoff.intent) title += ' · ' + str(open.handoff.intent, 80);
    $('conv-title').textContent = title;
    var st = open.state === 'agent'
      ? (mine ? 'You are chatting with the visitor' : 'With ' + (agentName(open.owner) || 'another agent'))
      : open.state === 'queued' ? 'Waiting in the queue' + (w ? ' (#' + num(w.position) + ')' : '')
      : open.state === 'closed' ? 'Closed' : 'With the bot';
    $('conv-state').textContent = st;
    $('conv-actions').hidden = false;
    $('accept-btn').hidden = open.state !== 'queued';
    $('decline-btn').hidden = !(open.state === 'queued' && offers.has(open.id));
    $('transfer-btn').hidden = !mine;
    $('return-btn').hidden = !mine;
    // Only the owner may close (docs/protocol.md), an admin too: a button that can only fail is not offered.
    $('close-btn').hidden = !mine;
    // Only the owner replies to the visitor; anyone may leave an internal note.
    var note = $('note-mode');
    if (!mine) {
      note.checked = true;
      note.disabled = true;
    } else if (note.disabled) { // just became ours: replying to the visitor is the normal case
      note.disabled = false;
      note.checked = false;
    }
    applyNoteMode();
    $('suggest-box').hidden = !mine;
    // The button just used (Accept, Close, Transfer, Return) or the note switch may be hidden or
    // disabled now: hand the keyboard to the conversation rather than let it fall to the page.
    if (focused && focused !== document.body && $('conv').contains(focused) &&
        (focused.disabled || focused.closest('[hidden]'))) {
      $('conv').focus();
    }
  }

  function onMessage(m) {
    var id = str(m.conversation_id, 200);
    if (open && open.id === id) {
      var log = $('log');
      var atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
      addMessage(m, true);
      if (atBottom || m.from === 'agent') log.scrollTop = log.scrollHeight;
      if (m.from === 'visitor') showVisitorTyping(false);
      return;
    }
    if (m.from === 'visitor') {
      unread.set(id, (unread.get(id) || 0) + 1);
      var mine = queue.assigned.some(function (a) { return a.conversation_id === id && me && a.agent_id === me.id; });
      if (mine) { beep(); announce('New message in conversation ' + shortId(id) + '.', false); }
      renderQueue();
    }
  }

  // into is the transcript element to add to: #log, or a new one not yet in the page.
  function addMessage(m, live, into) {
    var seq = m.seq;
    if (typeof seq !== 'number' || seq <= 0 || !open) return;
    if (open.bySeq.has(seq)) return;
    var from = { visitor: 1, bot: 1, agent: 1, system: 1 }[m.from] ? m.from : 'system';
    var text = str(m.text, 20000);
    var log = into || $('log');
    // Our own reply, already on screen while the server stored it: confirm it in place.
    if (live && from === 'agent') {
      var pend = log.querySelector('.msg--pending[data-text-key="' + cssEscape(hashKey(text)) + '"]');
      if (pend) {
        pend.classList.remove('msg--pending');
        pend.removeAttribute('data-text-key');
        pend.setAttribute('data-seq', String(seq));
        setFoot(pend, m.at, '');
        open.bySeq.set(seq, pend);
        return;
      }
    }
    var e = buildMessage(from, text, m.at, m.tone, from === 'agent' ? (str(m.name, 80) || '') : '');
    e.setAttribute('data-seq', String(seq));
    open.bySeq.set(seq, e);
    var before = null;
    for (var k = log.lastElementChild; k; k = k.previousElementSibling) {
      var s = k.getAttribute('data-seq');
      if (s !== null && Number(s) < seq) break;
      if (s !== null || k.classList.contains('msg--pending')) before = k;
    }
    log.insertBefore(e, before);
  }

  function hashKey(text) { return String(text.length) + ':' + text.slice(0, 40); }

  function buildMessage(from, text, at, tone, name) {
    var e = el('div', 'msg msg--' + from);
    var meta = el('p', 'meta');
    var who = from === 'visitor' ? 'Visitor' : from === 'bot' ? 'Bot' : from === 'agent' ? (name || 'Agent') : 'System';
    meta.appendChild(el('span', 'who', who));
    if (from === 'visitor' && tone && typeof tone.dominant === 'string' && tone.dominant && tone.dominant !== 'neutral') {
      var pct = Math.round(Math.max(0, Math.min(1, num(tone.intensity))) * 100);
      var t = el('span', toneClass(tone.dominant) + ' tone--small', toneName(tone.dominant) + ' ' + pct + '%');
      var ev = Array.isArray(tone.evidence) ? tone.evidence.filter(function (x) { return x && typeof x.phrase === 'string'; }) : [];
      var evText = ev.map(function (x) {
        return '“' + x.phrase.slice(0, 80) + '” (' + toneName(x.tone) + (typeof x.weight === 'number' ? ' ' + x.weight.toFixed(2) : '') + ')';
      }).join(', ');
      t.title = 'Tone: ' + toneName(tone.dominant) + ', intensity ' + pct + '%' + (evText ? '. Evidence: ' + evText : '');
      meta.appendChild(t);
      if (evText) meta.appendChild(el('span', 'vh', 'Tone evidence: ' + evText));
    }
    e.appendChild(meta);
    e.appendChild(el('div', 'bubble', text));
    e.appendChild(el('p', 'foot'));
    setFoot(e, at, '');
    return e;
  }

  function setFoot(e, at, extra) {
    var foot = e.querySelector('.foot');
    foot.textContent = '';
    var d = new Date(typeof at === 'string' ? at : NaN);
    if (!isNaN(d.getTime())) {
      var opts = { hour: 'numeric', minute: '2-digit' };
      if (d.toDateString() !== new Date().toDateString()) { opts.month = 'short'; opts.day = 'numeric'; }
      var t = el('time', '', d.toLocaleString([], opts));
      t.dateTime = d.toISOString();
      t.title = d.toLocaleString();
      foot.appendChild(t);
    }
    if (extra) foot.appendChild(document.createTextNode((foot.firstChild ? ' · ' : '') + extra));
  }

  function renderHandoff(h) {
    var dl = $('handoff-facts');
    dl.textContent = '';
    if (!h || typeof h !== 'object') { $('handoff-card').hidden = true; return; }
    $('handoff-card').hidden = false;
    var add = function (label, node) {
      dl.appendChild(el('dt', '', label));
      var dd = el('dd');
      if (typeof node === 'string') dd.textContent = node; else dd.appendChild(node);
      dl.appendChild(dd);
    };
    add('Reason', reasonText(h.reason));
    if (h.evidence) add('Evidence', str(h.evidence, 500));
    if (h.intent) add('Detected intent', str(h.intent, 80));
    if (Array.isArray(h.tags) && h.tags.length) add('Tags', h.tags.filter(function (x) { return typeof x === 'string'; }).join(', '));
    var traj = trajectory(h.tone_trajectory);
    if (traj) add('Tone trajectory', traj);
    if (Array.isArray(h.tried) && h.tried.length) {
      var ul = el('ul', 'tried');
      h.tried.forEach(function (x) { if (typeof x === 'string') ul.appendChild(el('li', '', x.slice(0, 300))); });
      add('The bot already tried', ul);
    }
  }

  // The trajectory is the bot's running tone record (intents/tone.Trajectory): weighted tone
  // scores, the negativity of the last turns, repeats. It is written out in words and numbers;
  // the bars only repeat the numbers.
  function trajectory(t) {
    if (!t || typeof t !== 'object' || Array.isArray(t)) return null;
    var ul = el('ul', 'traj');
    var neg = Array.isArray(t.negativity) ? t.negativity.map(num).slice(-8) : [];
    if (neg.length) {
      var li = el('li');
      li.appendChild(el('span', 'traj-label', 'Negativity'));
      li.appendChild(bars(neg));
      var trend = neg.length > 1 ? (neg[neg.length - 1] > neg[0] + 0.05 ? 'rising' : neg[neg.length - 1] < neg[0] - 0.05 ? 'falling' : 'steady') : '';
      li.appendChild(el('span', 'traj-text', neg.map(function (x) { return x.toFixed(2); }).join(' → ') + (trend ? ' (' + trend + ')' : '')));
      ul.appendChild(li);
    }
    if (t.tones && typeof t.tones === 'object') {
      Object.keys(t.tones).map(function (k) { return [k, num(t.tones[k])]; })
        .filter(function (x) { return x[1] >= 0.05; })
        .sort(function (a, b) { return b[1] - a[1]; }).slice(0, 4)
        .forEach(function (x) {
          var li = el('li');
          li.appendChild(el('span', toneClass(x[0]) + ' tone--small', toneName(x[0])));
          li.appendChild(el('span', 'traj-text', 'weighted ' + x[1].toFixed(2)));
          ul.appendChild(li);
        });
    }
    var facts = [];
    if (num(t.turns)) facts.push(num(t.turns) + (num(t.turns) === 1 ? ' visitor turn' : ' visitor turns'));
    if (num(t.asks) > 1) facts.push('asked the same ' + num(t.asks) + ' times');
    if (num(t.unresolved_streak)) facts.push(num(t.unresolved_streak) + ' unresolved in a row');
    if (facts.length) ul.appendChild(el('li', 'traj-text', facts.join(' · ')));
    return ul.children.length ? ul : null;
  }

  function bars(v) {
    var b = el('span', 'bars');
    b.setAttribute('aria-hidden', 'true');
    v.forEach(function (x) { b.appendChild(el('span', 'bar bar--' + Math.max(1, Math.min(10, Math.round(x * 10))))); });
    return b;
  }

  function renderNotes(notes) {
    var ul = $('notes-list');
    ul.textContent = '';
    notes.forEach(addNote);
    $('notes-empty').hidden = notes.length > 0;
  }
  function addNote(n) {
    if (!n || typeof n.text !== 'string') return;
    var li = el('li', 'note');
    var meta = el('p', 'meta', (str(n.agent, 80) || 'Agent'));
    var d = new Date(typeof n.at === 'string' ? n.at : NaN);
    if (!isNaN(d.getTime())) meta.appendChild(document.createTextNode(' · ' + d.toLocaleString([], { hour: 'numeric', minute: '2-digit' })));
    li.appendChild(meta);
    li.appendChild(el('p', 'note-text', n.text.slice(0, 5000)));
    $('notes-list').appendChild(li);
    $('notes-empty').hidden = true;
  }
  function onNote(m) {
    if (!open || m.conversation_id !== open.id) return;
    var mine = $('notes-list').querySelector('.note--pending');
    if (mine && mine.querySelector('.note-text').textContent === m.text) mine.remove();
    addNote(m);
  }

  function renderEarlier(list) {
    var ul = $('earlier-list');
    ul.textContent = '';
    list.forEach(function (c) {
      if (!c || typeof c.conversation_id !== 'string') return;
      var li = el('li');
      var b = el('button', 'link');
      b.type = 'button';
      var d = new Date(typeof c.started_at === 'string' ? c.started_at : NaN);
      b.textContent = (isNaN(d.getTime()) ? shortId(c.conversation_id) : d.toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' })) +
        ' · ' + num(c.messages) + ' messages';
      b.addEventListener('click', function () { openConversation(c.conversation_id); });
      li.appendChild(b);
      ul.appendChild(li);
    });
    $('earlier-empty').hidden = ul.children.length > 0;
  }

  function chipList(ul, items, textOf, labelOf, kind) {
    ul.textContent = '';
    items.forEach(function (s) {
      var text = textOf(s);
      if (!text) return;
      var li = el('li');
      var b = el('button', 'chip chip--' + kind);
      b.type = 'button';
      var lab = labelOf(s);
      if (lab) b.appendChild(el('span', 'chip-label', lab));
      b.appendChild(el('span', 'chip-text', text));
      b.setAttribute('aria-label', (kind === 'suggest' ? 'Insert suggestion: ' : 'Insert canned response: ') + (lab ? lab + ': ' : '') + text);
      b.addEventListener('click', function () { insertText(text); });
      li.appendChild(b);
      ul.appendChild(li);
    });
  }
  function renderSuggestions(list) {
    var items = Array.isArray(list) ? list.filter(function (s) { return s && typeof s.text === 'string' && s.text; }) : [];
    chipList($('suggest-list'), items, function (s) { return s.text.slice(0, 1000); }, function (s) {
      return (s.source === 'llm' ? 'AI draft · ' : '') + (str(s.title, 60) || str(s.label, 60));
    }, 'suggest');
    if (!items.length) $('suggest-list').appendChild(el('li', 'empty', 'No suggestions yet: press Suggest.'));
  }
  // The hand-off summary arrives with the suggestions: a generated aid, marked as such, never sent.
  function renderSummary(sum) {
    var box = $('summary-box');
    if (!box) {
      box = document.createElement('section');
      box.id = 'summary-box';
      box.className = 'summary';
      box.setAttribute('aria-label', 'Hand-off summary');
      $('suggest-box').insertBefore(box, $('suggest-list'));
    }
    box.textContent = '';
    if (!sum || typeof sum !== 'object') { box.hidden = true; return; }
    box.hidden = false;
    box.appendChild(el('p', 'muted', (sum.source === 'llm' ? 'AI summary' : 'Summary') + ' (generated, check the transcript)'));
    [['Wants', sum.wants], ['Tried', sum.tried], ['Feels', sum.feels]].forEach(function (row) {
      var text = str(row[1], 600);
      if (!text) return;
      var p = document.createElement('p');
      var b = document.createElement('strong');
      b.textContent = row[0] + ': ';
      p.appendChild(b);
      p.appendChild(document.createTextNode(text));
      box.appendChild(p);
    });
  }
  function renderCanned(list) {
    var items = Array.isArray(list) ? list.filter(function (s) { return s && typeof s.text === 'string' && s.text; }) : [];
    chipList($('canned-list'), items, function (s) { return s.text.slice(0, 2000); }, function (s) { return str(s.title, 60); }, 'canned');
    $('canned').hidden = items.length === 0;
  }

  // Inserting never sends: the agent reads, edits and sends it.
  function insertText(text) {
    var box = $('reply-input');
    var v = box.value;
    box.value = v && !/\s$/.test(v) ? v + ' ' + text : v + text;
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);
    typingActivity();
  }

  $('suggest-btn').addEventListener('click', function () {
    if (open) request('suggest', { type: 'suggest', conversation_id: open.id });
  });

  /* ---------- typing ---------- */

  function onTyping(m) {
    if (!open || m.conversation_id !== open.id || m.from !== 'visitor') return;
    showVisitorTyping(m.on === true);
  }
  function showVisitorTyping(on) {
    clearTimeout(visitorTypingTimer);
    // A live region: the visitor's "typing on" repeats every few seconds, and rewriting the same
    // words would have them read out again each time.
    var line = on ? 'The visitor is typing…' : '';
    if ($('typing').textContent !== line) $('typing').textContent = line;
    if (on) visitorTypingTimer = setTimeout(function () { $('typing').textContent = ''; }, 30000);
  }

  var typingOn = false, typingSentAt = 0, typingIdle = 0, typingCid = '';
  // "typing on" at most every 3 s while typing; "off" after 5 s idle, on send and on blur.
  function typingActivity() {
    var box = $('reply-input');
    if (!open || $('note-mode').checked || !box.value.trim()) { typingStop(); return; }
    var now = Date.now();
    if (!typingOn || now - typingSentAt >= 3000 || typingCid !== open.id) {
      if (typingCid && typingCid !== open.id) typingStop();
      if (send({ type: 'typing', conversation_id: open.id, on: true })) {
        typingOn = true;
        typingSentAt = now;
        typingCid = open.id;
      }
    }
    clearTimeout(typingIdle);
    typingIdle = setTimeout(typingStop, 5000);
  }
  function typingStop() {
    clearTimeout(typingIdle);
    if (typingOn) { typingOn = false; send({ type: 'typing', conversation_id: typingCid, on: false }); }
  }

  /* ---------- reply box ---------- */

  function applyNoteMode() {
    var note = $('note-mode').checked;
    $('reply').classList.toggle('reply--note', note);
    $('reply-label').textContent = note ? 'Internal note (never shown to the visitor)' : 'Reply to the visitor';
    $('reply-input').placeholder = note ? 'Internal note, only agents see it…' : 'Reply to the visitor…';
    $('send-btn').textContent = note ? 'Add note' : 'Send';
    if (note) typingStop();
  }
  $('note-mode').addEventListener('change', applyNoteMode);

  function submitReply() {
    if (!open) return;
    var box = $('reply-input');
    var text = box.value.replace(/^\s+|\s+$/g, '');
    if (!text) { box.focus(); return; }
    if ($('note-mode').checked) {
      if (!request('note', { type: 'note', conversation_id: open.id, text: text })) return;
      var li = el('li', 'note note--pending');
      li.appendChild(el('p', 'meta', (str(me && me.name, 80) || 'You') + ' · saving…'));
      li.appendChild(el('p', 'note-text', text));
      $('notes-list').appendChild(li);
      $('notes-empty').hidden = true;
    } else {
      var e = buildMessage('agent', text, new Date().toISOString(), null, str(me && me.name, 80));
      e.classList.add('msg--pending');
      e.setAttribute('data-text-key', hashKey(text));
      setFoot(e, '', 'Sending…');
      var id = request('message', { type: 'message', conversation_id: open.id, text: text }, { el: e, text: text });
      if (!id) return;
      $('log').appendChild(e);
      $('log').scrollTop = $('log').scrollHeight;
      typingStop();
    }
    box.value = '';
    box.focus();
  }

  $('reply').addEventListener('submit', function (e) { e.preventDefault(); submitReply(); });
  $('reply-input').addEventListener('input', typingActivity);
  $('reply-input').addEventListener('blur', typingStop);
  $('reply-input').addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.altKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      submitReply();
    }
  });

  /* ---------- acks and errors ---------- */

  function onAck(m) {
    var info = pendingReq.get(m.id);
    if (!info) return;
    pendingReq.delete(m.id);
    if (info.kind === 'accept') {
      offers.delete(info.conversation_id);
      announce('You accepted the conversation.', false);
      openConversation(info.conversation_id);
    } else if (info.kind === 'message' && info.el && info.el.classList.contains('msg--pending')) {
      var seq = m.seq;
      if (typeof seq === 'number' && open && open.bySeq.has(seq) && open.bySeq.get(seq) !== info.el) {
        info.el.remove(); // its broadcast got here first
      } else {
        info.el.classList.remove('msg--pending');
        info.el.removeAttribute('data-text-key');
        if (typeof seq === 'number' && open) { info.el.setAttribute('data-seq', String(seq)); open.bySeq.set(seq, info.el); }
        setFoot(info.el, new Date().toISOString(), 'Sent');
      }
    } else if (info.kind === 'transfer') {
      announce('Conversation transferred.', false);
    } else if (info.kind === 'return') {
      announce('Conversation returned to the bot.', false);
    } else if (info.kind === 'close') {
      announce('Conversation closed.', false);
    }
  }

  function onError(m) {
    var text = str(m.message, 500) || 'The server refused that (' + str(m.code, 40) + ').';
    var info = typeof m.id === 'string' ? pendingReq.get(m.id) : null;
    if (info) pendingReq.delete(m.id);
    if (info && info.kind === 'message' && info.el) {
      info.el.classList.remove('msg--pending');
      info.el.classList.add('msg--failed');
      setFoot(info.el, '', 'Not sent');
      info.el.appendChild(el('p', 'error', text));
      var box = $('reply-input');
      if (!box.value.trim()) box.value = info.text; // nothing lost: the text is back in the box
    } else if (info && info.kind === 'note') {
      var p = $('notes-list').querySelector('.note--pending');
      if (p) p.remove();
      if (!$('reply-input').value.trim()) $('reply-input').value = info.text || '';
    }
    if (info && info.kind === 'open') openRequested = '';
    if (info && info.kind === 'accept') { offers.delete(info.conversation_id); renderQueue(); }
    showError(text);
  }

  var errTimer = 0;
  function showError(text) {
    var e = $('conv-error');
    e.textContent = text;
    e.hidden = false;
    clearTimeout(errTimer);
    errTimer = setTimeout(function () { e.hidden = true; }, 15000);
  }

  /* ---------- ownership changes ---------- */

  function onAssigned(m) {
    var id = str(m.conversation_id, 200);
    offers.delete(id);
    if (open && open.id === id) {
      open.state = 'agent';
      open.owner = str(m.agent_id, 200);
      systemLine('Assigned to ' + (str(m.agent_name, 80) || agentName(open.owner) || 'an agent'));
      updateOpenHeader();
    }
    renderQueue();
  }

  function onEnded(m, state, text) {
    var id = str(m.conversation_id, 200);
    offers.delete(id);
    if (open && open.id === id) {
      open.state = state;
      open.owner = '';
      systemLine(text);
      updateOpenHeader();
      showVisitorTyping(false);
    }
    renderQueue();
  }

  function systemLine(text) {
    var e = buildMessage('system', text, new Date().toISOString(), null, '');
    e.classList.add('msg--local');
    $('log').appendChild(e);
  }

  /* ---------- actions ---------- */

  $('accept-btn').addEventListener('click', function () { if (open) accept(open.id); });
  $('decline-btn').addEventListener('click', function () { if (open) decline(open.id); });
  $('return-btn').addEventListener('click', function () {
    if (open) request('return', { type: 'return', conversation_id: open.id });
  });

  function openClose() {
    if (!open || $('close-btn').hidden) return;
    $('close-dialog').showModal();
  }
  $('close-btn').addEventListener('click', openClose);
  $('close-dialog').addEventListener('close', function () {
    var d = $('close-dialog');
    if (d.returnValue === 'close' && open) {
      var r = d.querySelector('input[name="resolution"]:checked');
      request('close', { type: 'close', conversation_id: open.id, resolution: r ? r.value : 'resolved' });
    }
    d.returnValue = '';
    $('close-btn').focus();
  });

  $('transfer-btn').addEventListener('click', function () {
    if (!open) return;
    var sel = $('transfer-agent');
    sel.textContent = '';
    var none = el('option', '', '— choose an agent —');
    none.value = '';
    sel.appendChild(none);
    queue.agents.forEach(function (a) {
      if (me && a.id === me.id) return;
      var o = el('option', '', str(a.name, 80) + ' (' + (a.presence || 'offline') + ', ' + num(a.active) + '/' + num(a.capacity) + ')');
      o.value = a.id;
      o.disabled = a.presence !== 'online';
      sel.appendChild(o);
    });
    var teams = new Set();
    (me && Array.isArray(me.skills) ? me.skills : []).forEach(function (s) { if (typeof s === 'string') teams.add(s); });
    queue.agents.forEach(function (a) {
      (Array.isArray(a.skills) ? a.skills : []).forEach(function (x) { if (typeof x === 'string') teams.add(x); });
    });
    (open.handoff && Array.isArray(open.handoff.tags) ? open.handoff.tags : []).forEach(function (s) { if (typeof s === 'string') teams.add(s); });
    var dl = $('team-options');
    dl.textContent = '';
    teams.forEach(function (t) { var o = el('option'); o.value = t; dl.appendChild(o); });
    $('transfer-team').value = '';
    $('transfer-error').hidden = true;
    $('transfer-dialog').showModal();
  });
  $('transfer-form').addEventListener('submit', function (e) {
    var d = $('transfer-dialog');
    if (e.submitter && e.submitter.value !== 'transfer') return;
    var agent = $('transfer-agent').value, team = $('transfer-team').value.trim();
    if (!agent && !team) {
      e.preventDefault();
      $('transfer-error').textContent = 'Choose an agent or type a team.';
      $('transfer-error').hidden = false;
      return;
    }
    var f = { type: 'transfer', conversation_id: open ? open.id : '' };
    if (agent) f.to_agent = agent; else f.to_team = team;
    if (open) request('transfer', f);
    d.returnValue = 'transfer';
  });
  $('transfer-dialog').addEventListener('close', function () { $('transfer-btn').focus(); });

  // Cancel is a plain button, so that Enter in a dialog submits its main action, not Cancel.
  Array.prototype.forEach.call(document.querySelectorAll('dialog [data-cancel]'), function (b) {
    b.addEventListener('click', function () { b.closest('dialog').close('cancel'); });
  });

  /* ---------- keyboard ---------- */

  var help = $('help-dialog');
  $('help-btn').addEventListener('click', function () { help.showModal(); });
  help.addEventListener('close', function () { $('help-btn').focus(); });

  // Single-key shortcuts ("a" accepts, "?" helps) can be turned off in the help, and stay off in
  // this browser (WCAG 2.1.4): speech input saying a word, or a stray key, must not accept a chat.
  var K_SINGLE_KEYS = 'attune.console.single_keys';
  var singleKeys = true;
  try { singleKeys = localStorage.getItem(K_SINGLE_KEYS) !== 'off'; } catch (e) { /* storage blocked: on */ }
  function applySingleKeys() {
    $('single-keys').checked = singleKeys;
    // aria-keyshortcuts must not promise a key that does nothing.
    if (singleKeys) {
      $('accept-btn').setAttribute('aria-keyshortcuts', 'a');
      $('help-btn').setAttribute('aria-keyshortcuts', '?');
    } else {
      $('accept-btn').removeAttribute('aria-keyshortcuts');
      $('help-btn').removeAttribute('aria-keyshortcuts');
    }
    $('help-btn').querySelector('kbd').hidden = !singleKeys;
    $('accept-hint').hidden = !singleKeys;
  }
  $('single-keys').addEventListener('change', function () {
    singleKeys = $('single-keys').checked;
    try {
      if (singleKeys) localStorage.removeItem(K_SINGLE_KEYS);
      else localStorage.setItem(K_SINGLE_KEYS, 'off');
    } catch (e) { /* storage blocked: the choice holds for this page only */ }
    applySingleKeys();
  });
  applySingleKeys();

  function editable(t) {
    return t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  }
  document.addEventListener('keydown', function (e) {
    if (!me || $('app').hidden || e.isComposing) return;
    if (document.querySelector('dialog[open]')) return;
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      if (open && !$('reply').hidden) { e.preventDefault(); submitReply(); }
      return;
    }
    if (e.altKey && !e.ctrlKey && !e.metaKey && (e.code === 'KeyC' || e.key === 'c' || e.key === 'C')) {
      e.preventDefault();
      openClose();
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey || editable(e.target) || !singleKeys) return;
    if (e.key === '?') { e.preventDefault(); help.showModal(); return; }
    if (e.key === 'a' || e.key === 'A') {
      var id = topOffer();
      if (id) { e.preventDefault(); accept(id); } else announce('Nothing to accept.', false);
    }
  });

  /* ---------- start ---------- */

  document.addEventListener('visibilitychange', function () { if (!document.hidden) reconnectNow(); });
  resetView();
  checkSession();

  // Read-only hook for headless-browser tests.
  window.__console = Object.freeze({
    state: function () {
      return {
        connected: connected,
        agent: me ? { id: me.id, login: me.login, name: me.name } : null,
        waiting: queue.waiting.map(function (w) { return w.conversation_id; }),
        open: open ? open.id : null,
        messages: open ? open.bySeq.size : 0,
      };
    },
  });
})();
