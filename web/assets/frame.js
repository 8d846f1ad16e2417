/*
 * Attune chat panel: talks the visitor websocket protocol v1 (docs/protocol.md)
 * and renders the conversation. Runs inside the iframe created by widget.js,
 * or as a page of its own when /widget/frame is opened directly.
 *
 * Invariants worth keeping when editing:
 *  - message text only ever reaches the DOM through textContent / text nodes;
 *  - a visitor message stays in the localStorage outbox until the server acks
 *    it (or its own broadcast comes back), and is resent with the same id;
 *  - rendered messages are keyed by seq, so replays and multiple tabs never
 *    duplicate anything.
 */
(function () {
  'use strict';

  var root = document.documentElement;
  var CFG = {
    business: root.getAttribute('data-business') || 'us',
    bot: root.getAttribute('data-bot') || 'Assistant',
    title: root.getAttribute('data-title') || root.getAttribute('data-business') || 'us',
    accent: /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i.test(root.getAttribute('data-accent') || '')
      ? root.getAttribute('data-accent') : '#3b5bdb',
    maxChars: parseInt(root.getAttribute('data-max-chars'), 10) > 0
      ? parseInt(root.getAttribute('data-max-chars'), 10) : 4000,
  };
  var K_TOKEN = 'attune.token', K_OUTBOX = 'attune.outbox', K_SEEN = 'attune.seen';
  var FROM = { visitor: 1, bot: 1, agent: 1, system: 1 };

  var $ = function (id) { return document.getElementById(id); };
  var log = $('log'), input = $('input'), form = $('composer'), counter = $('counter');
  var typingEl = $('typing'), connEl = $('conn'), noticeEl = $('notice');
  var statusEl = $('status'), statusMain = $('status-main'), statusSub = $('status-sub');
  var whoName = $('who-name'), whoTag = $('who-tag'), avatar = $('avatar'), closeBtn = $('close');

  var embedded = window.parent !== window;
  var parentOrigin = detectParentOrigin();
  // Without a trusted parent we cannot be told about visibility, so assume shown.
  var visible = !embedded || !parentOrigin;
  var modal = false;        // the loader shows us full-screen: Tab stays inside

  var ws = null;            // current socket, null between attempts
  var connected = false;    // true from welcome until close
  var wantSocket = false;   // set on the first connect(); we then always reconnect
  var conversationId = '';
  var lastSeq = 0;          // highest seq rendered
  var seenSeq = 0;          // highest seq the visitor has had on screen (for unread)
  var unreadPosted = -1;
  var convState = '';
  var startNew = false;     // the next hello asks for a new chat (after one ended)
  var agentName = '';
  var attempt = 0, retryTimer = 0, helloTimer = 0, connTimer = 0, noticeTimer = 0, typingShowTimer = 0;
  var bySeq = new Map();    // seq -> element
  var pendingEls = new Map(); // client id -> element of an unconfirmed visitor message
  var streams = new Map();  // stream_id -> {el, node}
  // The history replayed on page load is built in a detached copy of #log (log points at it
  // meanwhile) that then replaces the one on the page whole: filling the live log on the page
  // would have a screen reader read the whole conversation out, message by message, on every page
  // load. {upTo: the last seq of the history (welcome's last_seq), live: the #log on the page}.
  var building = null, buildTimer = 0;

  /* ---------- storage (localStorage can throw: private mode, blocked third-party storage) ---------- */

  var mem = null; // in-memory fallback once localStorage has failed
  var store = {
    get: function (k) {
      if (mem) return Object.prototype.hasOwnProperty.call(mem, k) ? mem[k] : null;
      try { return localStorage.getItem(k); } catch (e) { mem = {}; return null; }
    },
    set: function (k, v) {
      if (!mem) { try { localStorage.setItem(k, v); return; } catch (e) { mem = {}; } }
      mem[k] = v;
    },
    del: function (k) {
      if (mem) { delete mem[k]; return; }
      try { localStorage.removeItem(k); } catch (e) { mem = {}; }
    },
  };

  // The outbox is re-read on every change (not cached) so several tabs sharing
  // localStorage do not overwrite each other's unsent messages.
  function outboxRead() {
    try {
      var a = JSON.parse(store.get(K_OUTBOX) || '[]');
      return Array.isArray(a) ? a.filter(function (x) {
        return x && typeof x.id === 'string' && typeof x.text === 'string';
      }) : [];
    } catch (e) { return []; }
  }
  function outboxWrite(a) {
    if (a.length) store.set(K_OUTBOX, JSON.stringify(a)); else store.del(K_OUTBOX);
  }
  function outboxAdd(item) {
    var a = outboxRead();
    if (!a.some(function (x) { return x.id === item.id; })) a.push(item);
    outboxWrite(a);
  }
  function outboxRemove(id) {
    var a = outboxRead();
    var b = a.filter(function (x) { return x.id !== id; });
    if (b.length !== a.length) outboxWrite(b);
  }

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.from(b, function (x) { return (x < 16 ? '0' : '') + x.toString(16); }).join('');
  }

  /* ---------- parent window (widget.js) ---------- */

  // The loader names the host origin in ?parent=; where the browser can tell us
  // who really embeds us (ancestorOrigins), a mismatch means we trust nobody.
  function detectParentOrigin() {
    if (!embedded) return '';
    var p = new URLSearchParams(location.search).get('parent') || '';
    var o;
    try { o = new URL(p).origin; } catch (e) { return ''; }
    if (o !== p || o === 'null') return '';
    var anc = location.ancestorOrigins;
    if (anc && anc.length && anc[0] !== o) return '';
    return o;
  }

  function post(msg) {
    if (parentOrigin) window.parent.postMessage(msg, parentOrigin);
  }

  window.addEventListener('message', function (e) {
    if (!parentOrigin || e.source !== window.parent || e.origin !== parentOrigin) return;
    var d = e.data;
    if (!d || typeof d !== 'object') return;
    if (d.attune === 'visibility') setVisible(d.open === true, d.focus === true);
    if (d.attune === 'modal') modal = d.on === true;
    if (d.attune === 'prefill' && typeof d.text === 'string') {
      // Only fills the box; the visitor still decides to send.
      input.value = d.text.slice(0, 500);
      onInput();
      input.focus();
    }
  });

  // focus is only true when the visitor opened the chat themselves (never steal focus).
  function setVisible(open, focus) {
    visible = open;
    if (open) {
      connect();
      scrollToEnd(true);
      if (focus) input.focus();
    } else {
      typingStop();
    }
    updateUnread();
  }

  /* ---------- colours: any accent, always readable ---------- */

  function hexToRgb(h) {
    var m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec((h || '').trim());
    if (!m) return null;
    var s = m[1].length === 3 ? m[1].replace(/./g, '$&$&') : m[1];
    return [0, 2, 4].map(function (i) { return parseInt(s.slice(i, i + 2), 16); });
  }
  function toHex(rgb) {
    return '#' + rgb.map(function (v) { return (v < 16 ? '0' : '') + v.toString(16); }).join('');
  }
  function luminance(rgb) {
    var c = rgb.map(function (v) {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  }
  function contrast(a, b) {
    var x = luminance(a), y = luminance(b);
    return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
  }
  // Move the accent toward black (light theme) or white (dark theme) until it
  // reaches the target contrast on the background, keeping its hue.
  function inkOn(acc, bg, target) {
    var to = luminance(bg) > 0.5 ? [0, 0, 0] : [255, 255, 255];
    for (var t = 0; t <= 1.0001; t += 0.05) {
      var c = acc.map(function (v, i) { return Math.round(v + (to[i] - v) * t); });
      if (contrast(c, bg) >= target) return c;
    }
    return to;
  }
  function applyColours() {
    var acc = hexToRgb(CFG.accent);
    var bg = hexToRgb(getComputedStyle(root).getPropertyValue('--bg')) || [255, 255, 255];
    root.style.setProperty('--accent', toHex(acc));
    root.style.setProperty('--on-accent',
      contrast(acc, [255, 255, 255]) >= contrast(acc, [0, 0, 0]) ? '#ffffff' : '#000000');
    root.style.setProperty('--accent-ink', toHex(inkOn(acc, bg, 4.5)));
  }

  /* ---------- socket ---------- */

  function wsURL() {
    return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws/visitor';
  }

  function sendRaw(obj) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(obj));
    return true;
  }

  // Called on every sign of activity (focus, pointer, each keystroke): it must not
  // cut a scheduled retry short, or typing while the server is down would open a
  // socket per keystroke and push the backoff to its 30 s cap. reconnectNow is the
  // way to skip the wait.
  function connect() {
    wantSocket = true;
    if (ws || retryTimer) return;
    var sock;
    try { sock = new WebSocket(wsURL()); } catch (e) { scheduleReconnect(); return; }
    ws = sock;
    showConn(attempt ? 'Reconnecting…' : 'Connecting…', attempt ? 1000 : 1500);
    sock.onopen = function () {
      if (ws !== sock) return;
      // last_seq is 0 on page load (full replay), the highest seq rendered after.
      var hello = { type: 'hello', token: store.get(K_TOKEN) || '', last_seq: lastSeq };
      if (startNew) hello.new = true;
      sendRaw(hello);
      helloTimer = setTimeout(function () {
        if (ws === sock && !connected) sock.close(4000, 'no welcome');
      }, 10000);
    };
    sock.onmessage = function (e) {
      if (ws === sock && typeof e.data === 'string') onFrame(e.data);
    };
    sock.onclose = function () {
      if (ws !== sock) return;
      ws = null;
      connected = false;
      clearTimeout(helloTimer);
      showTyping(null);
      typingOn = false;
      // Any 1001 (server shutdown), network loss or timeout: come back later.
      scheduleReconnect();
    };
  }

  // Exponential backoff with "equal jitter": 0.5 s doubling to 30 s, each wait
  // drawn from [cap/2, cap] so a restarted server is not hit by every tab at once.
  function scheduleReconnect() {
    if (retryTimer || ws) return;
    var cap = Math.min(30000, 500 * Math.pow(2, attempt));
    attempt++;
    retryTimer = setTimeout(function () { retryTimer = 0; connect(); }, cap / 2 + Math.random() * cap / 2);
    showConn(navigator.onLine === false
      ? 'You’re offline. Your messages will be sent when you’re back.' : 'Reconnecting…', 1000);
  }

  function reconnectNow() {
    if (wantSocket && !ws) { clearTimeout(retryTimer); retryTimer = 0; connect(); }
  }
  window.addEventListener('online', reconnectNow);
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'visible') reconnectNow();
  });

  // Connection problems are shown only if they last, so quick reconnects do not
  // flicker; the first pending timer wins so fast retries cannot postpone it forever.
  var connText = '';
  function showConn(text, delay) {
    connText = text;
    if (!connEl.hidden) { setText(connEl, text); return; }
    if (connTimer) return;
    connTimer = setTimeout(function () {
      connTimer = 0;
      if (connected) return;
      setText(connEl, connText);
      connEl.hidden = false;
    }, delay);
  }
  function hideConn() { clearTimeout(connTimer); connTimer = 0; connEl.hidden = true; connEl.textContent = ''; }

  function onFrame(data) {
    var m;
    try { m = JSON.parse(data); } catch (e) { return; }
    if (!m || typeof m !== 'object') return;
    switch (m.type) {
      case 'welcome': onWelcome(m); break;
      case 'message': onMessage(m); break;
      case 'ack': onAck(m); break;
      case 'typing':
        if (m.from === 'bot' || m.from === 'agent') showTyping(m.on === true ? m.from : null);
        break;
      case 'error': onError(m); break;
      case 'state': applyState(m, false); break;
      case 'stream': onStream(m); break;
      // Unknown types are ignored so that newer servers do not break old widgets.
    }
  }

  function onWelcome(m) {
    clearTimeout(helloTimer);
    connected = true;
    attempt = 0;
    hideConn();
    if (typeof m.token === 'string' && m.token) store.set(K_TOKEN, m.token);
    startNew = false;
    if (m.resumed !== true) clearHistory(); // new conversation: old transcript is gone
    conversationId = typeof m.conversation_id === 'string' ? m.conversation_id : '';
    // A server older than last_seq in welcome sends none: the history then goes live as before.
    var upTo = m.resumed === true && typeof m.last_seq === 'number' ? m.last_seq : 0;
    if (building) building.upTo = upTo; // reconnected mid-replay: the rest is history too
    else if (lastSeq === 0 && upTo > 0) startBuilding(upTo);
    if (building && lastSeq >= building.upTo) finishBuilding();
    seenSeq = loadSeen();
    // Half-streamed replies from before the drop: the final message is replayed.
    streams.forEach(function (s) { s.el.remove(); });
    streams.clear();
    applyState(m, true);
    // Resend everything unacknowledged with the same id; the server dedupes.
    outboxRead().forEach(function (item) {
      var el = renderPending(item);
      clearFailure(el);
      setFoot(el, 'Sending…');
      sendRaw({ type: 'message', id: item.id, text: item.text });
    });
    updateUnread();
  }

  function startBuilding(upTo) {
    var fresh = log.cloneNode(false);
    // Unsent messages from the outbox, already on the page, move along (a removal is not read).
    while (log.firstChild) fresh.appendChild(log.firstChild);
    building = { upTo: upTo, live: log };
    log = fresh;
    keepBuilding();
  }

  // A history that stops short of upTo (messages removed meanwhile) must not keep the transcript
  // off the page: after a few seconds without progress it is shown as it is.
  function keepBuilding() {
    clearTimeout(buildTimer);
    buildTimer = setTimeout(finishBuilding, 3000);
  }

  function finishBuilding() {
    if (!building) return;
    clearTimeout(buildTimer);
    var live = building.live;
    building = null;
    var hadFocus = document.activeElement === live;
    live.replaceWith(log);
    if (hadFocus) log.focus();
    scrollToEnd(true);
    // The unread count of the whole history, once: the loader does not announce the first count.
    updateUnread();
  }

  function clearHistory() {
    bySeq.forEach(function (el) { el.remove(); });
    bySeq.clear();
    // Permanently failed bubbles carry a fractional seq; they belong to the old chat too.
    Array.prototype.slice.call(log.querySelectorAll('[data-seq]')).forEach(function (el) { el.remove(); });
    lastSeq = 0;
    unreadPosted = -1;
  }

  function onAck(m) {
    if (typeof m.id !== 'string') return;
    outboxRemove(m.id); // stored server-side: safe to forget
    var el = pendingEls.get(m.id);
    if (el) { clearFailure(el); setFoot(el, 'Sent'); }
  }

  function onMessage(m) {
    var seq = m.seq;
    if (typeof seq !== 'number' || seq <= 0 || Math.floor(seq) !== seq) return;
    var from = FROM[m.from] ? m.from : 'system';
    var text = typeof m.text === 'string' ? m.text : '';
    var cid = typeof m.client_id === 'string' ? m.client_id : '';
    if (typeof m.stream_id === 'string' && streams.has(m.stream_id)) {
      streams.get(m.stream_id).el.remove();
      streams.delete(m.stream_id);
    }
    if (building && seq > building.upTo) finishBuilding(); // new: goes into the live log
    if (cid) outboxRemove(cid);
    var pending = cid ? pendingEls.get(cid) : null;
    if (pending) pendingEls.delete(cid);
    if (bySeq.has(seq)) { // replay or another tab already gave us this one
      if (pending) pending.remove();
      return;
    }
    var atBottom = nearBottom();
    var el;
    if (pending) { // confirm in place, so screen readers do not hear it twice
      el = pending;
      el.classList.remove('msg--pending', 'msg--failed');
      clearFailure(el);
      // Rewriting the same text would add it to the live log again, and it would be read twice.
      var bubble = el.querySelector('.bubble');
      if (bubble.textContent !== text) fillText(bubble, text);
      setTime(el, m.at);
    } else {
      el = buildMessage(from, text, m.at, from === 'agent' ? agentLabel(m) : '');
    }
    el.setAttribute('data-seq', String(seq));
    bySeq.set(seq, el);
    placeBySeq(el, seq);
    if (seq > lastSeq) lastSeq = seq;
    if (from === 'bot' || from === 'agent') showTyping(null);
    scrollToEnd(atBottom || from === 'visitor');
    if (building) {
      if (lastSeq >= building.upTo) finishBuilding();
      else keepBuilding();
      return;
    }
    updateUnread();
  }

  function onStream(m) {
    if (typeof m.stream_id !== 'string' || typeof m.delta !== 'string') return;
    var s = streams.get(m.stream_id);
    var atBottom = nearBottom();
    if (!s) {
      var from = m.from === 'agent' ? 'agent' : 'bot';
      var el = buildMessage(from, '', new Date().toISOString(), from === 'agent' ? agentLabel(m) : '');
      el.classList.add('msg--stream');
      // Hidden from screen readers while it grows; the final message is announced whole.
      el.setAttribute('aria-hidden', 'true');
      var node = document.createTextNode('');
      el.querySelector('.bubble').appendChild(node);
      log.insertBefore(el, log.querySelector('.msg--pending'));
      regroup(el);
      s = { el: el, node: node };
      streams.set(m.stream_id, s);
      showTyping(null);
    }
    s.node.data += m.delta;
    scrollToEnd(atBottom);
  }

  function onError(m) {
    var id = typeof m.id === 'string' ? m.id : '';
    if (id === 'email') { // the address was refused: ask again
      emailLeft = false;
      if (emailForm) emailForm.hidden = false;
    }
    var text = typeof m.message === 'string' && m.message ? m.message : 'Something went wrong. Please try again.';
    var el = id ? pendingEls.get(id) : null;
    if (!el) { showNotice(text); return; }
    if (m.code === 'not_ready') { // the hello is not through yet: just try again shortly
      setTimeout(function () { resend(id); }, 1000);
      return;
    }
    var permanent = m.code === 'too_long' || m.code === 'bad_frame' || m.code === 'unknown_type';
    markFailed(el, text, !permanent);
    if (!permanent) return; // e.g. rate_limited: stays in the outbox, Retry or reconnect resends
    outboxRemove(id);
    pendingEls.delete(id);
    el.classList.remove('msg--pending');
    // Pin the failed bubble where it is (between seq lastSeq and the next one).
    el.setAttribute('data-seq', String(lastSeq + 0.5));
    if (m.code === 'too_long' && !input.value.trim()) {
      input.value = el.querySelector('.bubble').textContent; // let the visitor shorten it
      onInput();
    }
  }

  function resend(id) {
    var item = outboxRead().filter(function (x) { return x.id === id; })[0];
    var el = pendingEls.get(id);
    if (!item || !el) return;
    clearFailure(el);
    setFoot(el, 'Sending…');
    if (connected) sendRaw({ type: 'message', id: item.id, text: item.text });
    else { wantSocket = true; reconnectNow(); } // the visitor asked: try now, not at the next retry
  }

  /* ---------- conversation state (bot | queued | agent | closed) ---------- */

  function applyState(m, fromWelcome) {
    var s = m.state;
    if (s !== 'bot' && s !== 'queued' && s !== 'agent' && s !== 'closed') return;
    var prev = convState;
    convState = s;
    if (s === 'agent' && typeof m.agent === 'string' && m.agent.trim()) agentName = m.agent.trim().slice(0, 80);
    var human = s === 'agent';
    setWho(human ? (agentName || 'Our team') : CFG.bot, human ? 'Team' : 'Bot');
    var main = '', sub = '';
    if (s === 'queued') {
      var q = queueText(m);
      main = q[0];
      sub = q[1];
    } else if (s === 'agent') {
      main = fromWelcome || prev === 'agent'
        ? 'You’re chatting with ' + (agentName || 'our team')
        : (agentName || 'Someone from our team') + ' joined the chat';
    } else if (s === 'closed') {
      main = 'This chat has ended.';
      sub = 'Send a message if you need anything else, or start a new chat.';
    } else if (!fromWelcome && (prev === 'agent' || prev === 'queued')) {
      main = 'You’re chatting with ' + CFG.bot + ', our bot, again.';
    }
    setText(statusMain, main);
    setText(statusSub, sub);
    statusEl.hidden = !main;
    showEmailForm(s === 'queued' && (m.offline === true || m.agents_online === 0));
    showNewChat(s === 'closed');
  }

  /* ---------- after a chat ended: start a new one ---------- */

  // A new chat keeps the visitor (the server links it to the ended one, which agents then see
  // as an earlier conversation) but starts with an empty transcript.
  var newChatBtn = null;

  function showNewChat(show) {
    if (!show) {
      if (newChatBtn) newChatBtn.hidden = true;
      return;
    }
    if (!newChatBtn) {
      newChatBtn = document.createElement('button');
      newChatBtn.type = 'button';
      newChatBtn.className = 'new-chat';
      newChatBtn.id = 'new-chat';
      newChatBtn.textContent = 'Start a new chat';
      newChatBtn.addEventListener('click', startNewChat);
      statusEl.appendChild(newChatBtn);
    }
    newChatBtn.hidden = false;
  }

  function startNewChat() {
    startNew = true;
    newChatBtn.hidden = true;
    var old = ws;
    ws = null;
    connected = false;
    clearTimeout(helloTimer);
    clearTimeout(retryTimer);
    retryTimer = 0;
    attempt = 0;
    if (old) old.close(1000, 'new chat');
    connect();
    input.focus();
  }

  /* ---------- offline: leave an email ---------- */

  // When nobody can answer now, the visitor may leave an address so the team can reply later.
  // The form is built here (not in frame.html) because most chats never need it.
  var emailForm = null;
  var emailLeft = false;

  function showEmailForm(show) {
    if (!show || emailLeft) {
      if (emailForm) emailForm.hidden = true;
      return;
    }
    if (!emailForm) {
      emailForm = document.createElement('form');
      emailForm.className = 'email-form';
      emailForm.noValidate = true;
      var label = document.createElement('label');
      label.htmlFor = 'email-input';
      label.textContent = 'Your email, so the team can reply:';
      var input = document.createElement('input');
      input.type = 'email';
      input.id = 'email-input';
      input.autocomplete = 'email';
      input.required = true;
      var btn = document.createElement('button');
      btn.type = 'submit';
      btn.textContent = 'Send';
      emailForm.appendChild(label);
      emailForm.appendChild(input);
      emailForm.appendChild(btn);
      emailForm.addEventListener('submit', function (ev) {
        ev.preventDefault();
        var email = input.value.trim();
        if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
          showNotice('Please enter an email address such as name@example.com.');
          input.focus();
          return;
        }
        if (!connected) { showNotice('Not connected right now; please try again in a moment.'); return; }
        sendRaw({ type: 'email', id: 'email', email: email });
        emailLeft = true;
        var hadFocus = emailForm.contains(document.activeElement);
        emailForm.hidden = true;
        // The form is gone with the focus in it: hand the keyboard to the message box.
        if (hadFocus) $('input').focus();
        statusSub.textContent = 'Thanks — the team will reply to ' + email + '.';
      });
      statusEl.appendChild(emailForm);
    }
    emailForm.hidden = false;
  }

  function queueText(m) {
    var reason = typeof m.reason === 'string' ? m.reason.slice(0, 300) : '';
    if (m.agents_online === 0) {
      return ['No one from the team is online right now.',
        reason || 'Your message is saved; someone will answer here as soon as they are back.'];
    }
    var pos = typeof m.position === 'number' && m.position > 0 ? Math.floor(m.position) : 0;
    var main = pos === 1 ? 'You’re next in line'
      : pos > 1 ? 'You’re number ' + pos + ' in line' : 'Waiting for someone from the team';
    if (typeof m.eta_seconds === 'number' && m.eta_seconds >= 0) main += ', ' + etaText(m.eta_seconds);
    return [main, reason];
  }

  function etaText(s) {
    if (s < 60) return 'less than a minute';
    var min = Math.round(s / 60);
    if (min < 60) return 'about ' + min + (min === 1 ? ' minute' : ' minutes');
    var h = Math.round(min / 60);
    return 'about ' + h + (h === 1 ? ' hour' : ' hours');
  }

  function setWho(name, tag) {
    whoName.textContent = name;
    whoTag.textContent = tag;
    avatar.textContent = (Array.from(name)[0] || '?').toUpperCase();
  }

  function agentLabel(m) {
    return typeof m.name === 'string' && m.name.trim() ? m.name.trim().slice(0, 80) : agentName || 'Our team';
  }

  /* ---------- rendering (text only via textContent) ---------- */

  var URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;

  // Plain text with http(s) links turned into <a> elements built node by node.
  function fillText(node, text) {
    node.textContent = '';
    var last = 0, m;
    URL_RE.lastIndex = 0;
    while ((m = URL_RE.exec(text))) {
      var raw = m[0].replace(/[.,;:!?]+$/, '');
      while (/\)$/.test(raw) && raw.split('(').length < raw.split(')').length) raw = raw.slice(0, -1);
      var href = '';
      try {
        var u = new URL(raw);
        if (u.protocol === 'http:' || u.protocol === 'https:') href = u.href;
      } catch (e) { /* not a URL after all: stays text */ }
      if (!href) continue;
      node.appendChild(document.createTextNode(text.slice(last, m.index)));
      var a = document.createElement('a');
      a.href = href;
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
      a.textContent = raw;
      node.appendChild(a);
      last = m.index + raw.length;
      URL_RE.lastIndex = last;
    }
    node.appendChild(document.createTextNode(text.slice(last)));
  }

  function labels(from, agent) {
    switch (from) {
      case 'visitor': return ['You', 'You said:'];
      case 'bot': return [CFG.bot, CFG.bot + ' (bot) said:'];
      case 'agent': return [agent, agent + ' (' + CFG.business + ' team) said:'];
      default: return ['', 'Notice:'];
    }
  }

  function buildMessage(from, text, at, agent) {
    var el = document.createElement('div');
    el.className = 'msg msg--' + from;
    el.setAttribute('data-from', from === 'agent' ? 'agent:' + agent : from);
    var l = labels(from, agent);
    var meta = document.createElement('p');
    meta.className = 'meta';
    if (l[0]) {
      var name = document.createElement('span');
      name.className = 'name';
      name.setAttribute('aria-hidden', 'true'); // the hidden sentence below says it
      name.textContent = l[0];
      meta.appendChild(name);
    }
    var sr = document.createElement('span');
    sr.className = 'vh';
    sr.textContent = l[1];
    meta.appendChild(sr);
    var bubble = document.createElement('div');
    bubble.className = 'bubble';
    fillText(bubble, text);
    var foot = document.createElement('p');
    foot.className = 'foot';
    el.appendChild(meta);
    el.appendChild(bubble);
    el.appendChild(foot);
    setTime(el, at);
    return el;
  }

  function setTime(el, at) {
    var foot = el.querySelector('.foot');
    foot.textContent = '';
    var d = new Date(typeof at === 'string' ? at : NaN);
    if (isNaN(d.getTime())) return;
    var opts = { hour: 'numeric', minute: '2-digit' };
    if (d.toDateString() !== new Date().toDateString()) { opts.month = 'short'; opts.day = 'numeric'; }
    var t = document.createElement('time');
    t.dateTime = d.toISOString();
    t.title = d.toLocaleString();
    t.textContent = d.toLocaleString([], opts);
    foot.appendChild(t);
  }

  // The status, connection and typing lines are live regions: writing the words they already
  // show would have them read out again (each queue update, each retry of the backoff).
  function setText(el, text) { if (el.textContent !== text) el.textContent = text; }

  function setFoot(el, text) { el.querySelector('.foot').textContent = text; }

  function renderPending(item) {
    var el = pendingEls.get(item.id);
    if (el) return el;
    el = buildMessage('visitor', item.text, item.at, '');
    el.classList.add('msg--pending');
    setFoot(el, 'Sending…');
    log.appendChild(el);
    regroup(el);
    pendingEls.set(item.id, el);
    return el;
  }

  function markFailed(el, text, retryable) {
    clearFailure(el);
    el.classList.add('msg--failed');
    setFoot(el, 'Not sent');
    var box = document.createElement('p');
    box.className = 'error';
    box.setAttribute('role', 'alert');
    box.textContent = text;
    if (retryable) {
      var id = null;
      pendingEls.forEach(function (v, k) { if (v === el) id = k; });
      var b = document.createElement('button');
      b.type = 'button';
      b.textContent = 'Retry';
      b.addEventListener('click', function () {
        // The button goes away with the retry: keep the keyboard in the chat, in the message box.
        if (document.activeElement === b) input.focus();
        if (id) resend(id);
      });
      box.appendChild(b);
    }
    el.appendChild(box);
  }

  function clearFailure(el) {
    el.classList.remove('msg--failed');
    var box = el.querySelector('.error');
    if (box) box.remove();
  }

  // Keep the log ordered by seq; unconfirmed and streaming bubbles stay at the end.
  // An element already in the right place is not moved (moving re-announces it).
  function placeBySeq(el, seq) {
    var before = null;
    for (var k = log.lastElementChild; k; k = k.previousElementSibling) {
      if (k === el) continue;
      var s = k.getAttribute('data-seq');
      if (s !== null && Number(s) < seq) break;
      before = k;
    }
    var next = el.nextElementSibling;
    if (el.parentNode === log && next === before) return regroup(el);
    if (el.parentNode === log) { var oldNext = next; log.insertBefore(el, before); regroup(oldNext); }
    else log.insertBefore(el, before);
    regroup(el);
    regroup(el.nextElementSibling);
  }

  // Consecutive messages from the same sender show the name once.
  function regroup(el) {
    if (!el) return;
    var prev = el.previousElementSibling;
    var from = el.getAttribute('data-from');
    el.classList.toggle('msg--cont', !!prev && from !== 'system' && prev.getAttribute('data-from') === from);
  }

  function nearBottom() { return log.scrollHeight - log.scrollTop - log.clientHeight < 80; }
  function scrollToEnd(force) { if (force) log.scrollTop = log.scrollHeight; }

  function showTyping(from) {
    clearTimeout(typingShowTimer);
    if (!from) { typingEl.textContent = ''; return; }
    var who = from === 'agent' ? (agentName || 'Someone from our team') : CFG.bot;
    setText(typingEl, who + ' is typing…'); // "typing on" repeats every few seconds
    // A lost "typing off" must not leave the indicator up forever.
    typingShowTimer = setTimeout(function () { typingEl.textContent = ''; }, 30000);
  }

  function showNotice(text) {
    clearTimeout(noticeTimer);
    noticeEl.textContent = text;
    noticeEl.hidden = false;
    noticeTimer = setTimeout(function () { noticeEl.hidden = true; }, 8000);
  }

  /* ---------- unread count for the launcher badge ---------- */

  function loadSeen() {
    try {
      var o = JSON.parse(store.get(K_SEEN) || 'null');
      return o && o.c === conversationId && typeof o.s === 'number' ? o.s : 0;
    } catch (e) { return 0; }
  }

  function updateUnread() {
    if (!conversationId || building) return; // counted once the history is in
    var n = 0;
    if (visible) {
      if (lastSeq > seenSeq) {
        seenSeq = lastSeq;
        store.set(K_SEEN, JSON.stringify({ c: conversationId, s: seenSeq }));
      }
    } else {
      bySeq.forEach(function (el, seq) {
        var f = el.getAttribute('data-from') || '';
        if (seq > seenSeq && (f === 'bot' || f.indexOf('agent') === 0)) n++;
      });
    }
    if (n !== unreadPosted) { unreadPosted = n; post({ attune: 'unread', count: n }); }
  }

  /* ---------- composer ---------- */

  function charCount(s) { return Array.from(s).length; } // code points, as the server counts runes

  function onInput() {
    input.style.height = 'auto';
    input.style.height = Math.min(input.scrollHeight + 2, 140) + 'px';
    var n = charCount(input.value), max = CFG.maxChars;
    var over = n > max;
    counter.classList.toggle('over', over);
    input.setAttribute('aria-invalid', String(over));
    if (over) counter.textContent = (n - max) + ((n - max) === 1 ? ' character' : ' characters') + ' over the ' + max.toLocaleString() + ' limit';
    else if (n >= max - Math.max(50, Math.round(max * 0.1))) counter.textContent = n.toLocaleString() + ' / ' + max.toLocaleString();
    else counter.textContent = '';
    typingActivity();
  }

  var typingOn = false, typingSentAt = 0, typingIdle = 0;
  // "typing on" at most every 3 s while typing; "off" after 5 s idle, on send and on blur.
  function typingActivity() {
    if (!input.value.trim()) { typingStop(); return; }
    connect();
    var now = Date.now();
    if ((!typingOn || now - typingSentAt >= 3000) && connected && sendRaw({ type: 'typing', on: true })) {
      typingOn = true;
      typingSentAt = now;
    }
    clearTimeout(typingIdle);
    typingIdle = setTimeout(typingStop, 5000);
  }
  function typingStop() {
    clearTimeout(typingIdle);
    if (typingOn) { typingOn = false; if (connected) sendRaw({ type: 'typing', on: false }); }
  }

  function submit() {
    var text = input.value.replace(/^\s+|\s+$/g, '');
    if (!text) return;
    var n = charCount(text);
    if (n > CFG.maxChars) {
      var extra = n - CFG.maxChars;
      showNotice('Your message is ' + extra + (extra === 1 ? ' character' : ' characters') + ' too long. Please shorten it or split it in two.');
      input.focus();
      return;
    }
    var item = { id: newId(), text: text, at: new Date().toISOString() };
    outboxAdd(item); // before anything else: a crash from here on loses nothing
    renderPending(item);
    input.value = '';
    onInput();
    typingStop();
    noticeEl.hidden = true;
    scrollToEnd(true);
    if (connected) sendRaw({ type: 'message', id: item.id, text: item.text });
    else connect(); // sent from the outbox on welcome
  }

  form.addEventListener('submit', function (e) { e.preventDefault(); submit(); });
  input.addEventListener('input', onInput);
  input.addEventListener('blur', typingStop);
  input.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      submit();
    }
  });
  document.addEventListener('keydown', function (e) {
    if (e.key === 'Escape' && !e.isComposing && parentOrigin) { e.preventDefault(); post({ attune: 'close' }); }
    if (e.key === 'Tab' && modal && parentOrigin) keepTabInside(e);
  });

  // The panel covers the whole screen (the loader says so): Tab from the last control goes to the
  // first and Shift+Tab from the first to the last, instead of to the host page behind the panel.
  function keepTabInside(e) {
    var list = Array.prototype.filter.call(document.querySelectorAll('a[href], button, textarea, input, select, [tabindex]'), function (el) {
      return el.tabIndex >= 0 && !el.disabled && el.getClientRects().length > 0 && !el.closest('[hidden], [aria-hidden="true"]');
    });
    if (!list.length) return;
    var at = list.indexOf(document.activeElement);
    if (e.shiftKey && at <= 0) { e.preventDefault(); list[list.length - 1].focus(); }
    else if (!e.shiftKey && (at === list.length - 1 || at < 0)) { e.preventDefault(); list[0].focus(); }
  }
  closeBtn.addEventListener('click', function () { post({ attune: 'close' }); });
  // A visitor reaching for the chat is the moment to open a socket for a new visitor.
  document.addEventListener('focusin', connect);
  document.addEventListener('pointerdown', connect);
  window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', applyColours);

  /* ---------- start ---------- */

  applyColours();
  setWho(CFG.bot, 'Bot');
  closeBtn.hidden = !parentOrigin;
  outboxRead().forEach(renderPending); // unsent messages from a previous page stay visible
  // A returning visitor (token) or an unsent message connects at once; a new
  // visitor's first socket waits until the chat is opened or touched, so pages
  // with the widget do not create a conversation for every page view.
  if (!embedded || !parentOrigin || store.get(K_TOKEN) || outboxRead().length) connect();

  post({ attune: 'ready', title: 'Chat with ' + CFG.title, accent: CFG.accent });

  // Read-only hook for headless-browser tests.
  window.__attune = Object.freeze({
    state: function () {
      return { connected: connected, conversationId: conversationId, lastSeq: lastSeq, pending: outboxRead().length };
    },
  });
})();
