/*
 * Attune widget loader — the one file a business pastes:
 *   <script src="https://HOST/widget.js" async data-position="right"
 *           data-accent="#7a3e9d" data-open="false"></script>
 *
 * It only draws a launcher button and an <iframe> served from the Attune
 * origin; the chat itself lives in that frame (frame.html / frame.js), so the
 * host page's CSS, cookies and scripts never touch the conversation. Both are
 * placed in a shadow root so host CSS cannot restyle them either.
 *
 * Host pages may also add data-attune-open to any element (click opens the
 * chat) or data-attune-ask="question" (opens it with the question typed in,
 * not sent).
 *
 * The API is window.AttuneChat, and window.Attune too unless the page already
 * has a window.Attune of its own, which is left untouched (with a console warning).
 */
(function () {
  'use strict';

  // Loaded twice (e.g. pasted in a template and a tag manager): keep the first.
  if ((window.Attune && window.Attune.__attuneLoader) || (window.AttuneChat && window.AttuneChat.__attuneLoader)) return;

  var script = document.currentScript || findScript();
  if (!script || !script.src) return;
  var ORIGIN = new URL(script.src, location.href).origin;
  var HEX = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i;

  // The business's corner (widget.position), written in by the server; data-position wins.
  var DEFAULT_POSITION = 'right';
  var settings = {
    position: /^(left|right)$/.test(script.getAttribute('data-position') || '')
      ? script.getAttribute('data-position') : DEFAULT_POSITION,
    accent: HEX.test(script.getAttribute('data-accent') || '') ? script.getAttribute('data-accent') : '',
    open: script.getAttribute('data-open') === 'true',
  };

  var isOpen = false;
  var ready = false;
  var readyFns = [];
  var title = 'Chat';
  var ui = null; // {host, button, badge, badgeText, live, frame}
  var unreadSeen = -1; // the last unread count; -1 until the first one (not news: said by the launcher)

  // async scripts can run before <body> exists; never block parsing to wait.
  function findScript() {
    var all = document.getElementsByTagName('script');
    for (var i = all.length - 1; i >= 0; i--) {
      var src = all[i].src || '';
      if (/\/widget\.js(?:[?#].*)?$/.test(src)) return all[i];
    }
    return null;
  }

  // WCAG relative luminance: pick black or white, whichever reads better on the accent.
  function onAccent(hex) {
    var h = hex.slice(1);
    if (h.length === 3) h = h.replace(/./g, '$&$&');
    var rgb = [0, 2, 4].map(function (i) {
      var v = parseInt(h.slice(i, i + 2), 16) / 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    var l = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];
    // Contrast with white is 1.05/(l+0.05), with black (l+0.05)/0.05.
    return 1.05 / (l + 0.05) >= (l + 0.05) / 0.05 ? '#ffffff' : '#000000';
  }

  function setAccent(hex) {
    if (!ui || !HEX.test(hex)) return;
    ui.host.style.setProperty('--attune-accent', hex);
    ui.host.style.setProperty('--attune-on-accent', onAccent(hex));
  }

  var CSS = [
    ':host{all:initial}',
    '.launcher{position:fixed;bottom:20px;' + settings.position + ':20px;z-index:2147483647;',
    ' width:56px;height:56px;border-radius:50%;border:0;padding:0;margin:0;cursor:pointer;',
    ' background:var(--attune-accent,#3b5bdb);color:var(--attune-on-accent,#fff);',
    ' box-shadow:0 4px 14px rgba(0,0,0,.25);display:flex;align-items:center;justify-content:center;',
    ' transition:transform .15s ease}',
    '.launcher:hover{transform:scale(1.05)}',
    // Focus: a near-black ring around a white one, visible on any host page and with any accent
    // (an outline in the accent vanished with a light accent on a light page).
    '.launcher:focus-visible{outline:3px solid #111;outline-offset:3px;',
    ' box-shadow:0 0 0 3px #fff,0 4px 14px rgba(0,0,0,.25)}',
    '.launcher svg{width:28px;height:28px;fill:currentColor}',
    '.launcher .icon-close{display:none}',
    '.launcher[aria-expanded="true"] .icon-open{display:none}',
    '.launcher[aria-expanded="true"] .icon-close{display:block}',
    '.badge{position:absolute;top:-4px;right:-4px;min-width:20px;height:20px;padding:0 5px;',
    ' box-sizing:border-box;border-radius:10px;background:#b42318;color:#fff;border:2px solid #fff;',
    ' font:700 11px/16px system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;text-align:center}',
    '.badge[hidden]{display:none}',
    '.vh{position:absolute;width:1px;height:1px;margin:-1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}',
    '.panel{position:fixed;bottom:88px;' + settings.position + ':20px;z-index:2147483647;',
    ' width:380px;height:min(640px,calc(100vh - 110px));max-height:calc(100vh - 110px);',
    ' border:0;border-radius:14px;background:transparent;box-shadow:0 10px 40px rgba(0,0,0,.28);',
    ' color-scheme:normal;',
    // visibility (not display) keeps the frame laid out so it loads and can animate,
    // while removing it from the tab order and accessibility tree.
    ' visibility:hidden;opacity:0;transform:translateY(12px);pointer-events:none;',
    ' transition:opacity .18s ease,transform .18s ease,visibility 0s linear .18s}',
    '.panel.open{visibility:visible;opacity:1;transform:none;pointer-events:auto;',
    ' transition:opacity .18s ease,transform .18s ease}',
    // Phones: the panel takes the whole screen and carries its own close button.
    '@media (max-width:479.98px){',
    ' .panel{top:0;left:0;right:0;bottom:0;width:100%;height:100%;max-height:none;border-radius:0}',
    ' .launcher[aria-expanded="true"]{display:none}}',
    '@media (prefers-reduced-motion:reduce){.launcher,.panel,.panel.open{transition:none}',
    ' .launcher:hover{transform:none}}',
  ].join('');

  var ICONS =
    '<svg class="icon-open" viewBox="0 0 24 24" aria-hidden="true" focusable="false">' +
    '<path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg>' +
    '<svg class="icon-close" viewBox="0 0 24 24" aria-hidden="true" focusable="false">' +
    '<path d="M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12 19 17.6 17.6 19 12 13.4 6.4 19 5 17.6 10.6 12 5 6.4z"/></svg>';

  function mount() {
    if (ui || !document.body) return;
    // A tag of our own, not a <div>: host-page rules for divs (hiding empty ones, a transform
    // that would pin the fixed launcher to the host element instead of the screen) cannot match
    // it, and the inline !important reset beats even the page's own !important rules.
    var host = document.createElement('attune-widget');
    host.setAttribute('data-attune-widget', '');
    host.style.cssText = 'all:initial !important;display:block !important;position:static !important';
    if (!host.attachShadow) return; // very old browser: no widget rather than a broken one
    var root = host.attachShadow({ mode: 'open' });

    var style = document.createElement('style');
    style.textContent = CSS;

    var button = document.createElement('button');
    button.type = 'button';
    button.className = 'launcher';
    button.setAttribute('aria-label', 'Open chat');
    button.setAttribute('aria-expanded', 'false');
    button.setAttribute('aria-controls', 'attune-panel');
    button.setAttribute('aria-describedby', 'attune-unread');
    button.innerHTML = ICONS; // static markup, no data
    var badge = document.createElement('span');
    badge.className = 'badge';
    badge.hidden = true;
    badge.setAttribute('aria-hidden', 'true');
    button.appendChild(badge);
    var badgeText = document.createElement('span');
    badgeText.className = 'vh';
    badgeText.id = 'attune-unread';
    // The badge is a status message: new messages while the chat is closed are also said aloud.
    var live = document.createElement('span');
    live.className = 'vh';
    live.setAttribute('role', 'status');

    var frame = document.createElement('iframe');
    frame.id = 'attune-panel';
    frame.className = 'panel';
    frame.title = title;
    frame.setAttribute('allow', 'clipboard-write');
    // The frame only trusts postMessage from the origin named here (checked there too).
    frame.src = ORIGIN + '/widget/frame?parent=' + encodeURIComponent(location.origin);

    root.appendChild(style);
    root.appendChild(frame);
    root.appendChild(button);
    root.appendChild(badgeText);
    root.appendChild(live);
    document.body.appendChild(host);
    ui = { host: host, button: button, badge: badge, badgeText: badgeText, live: live, frame: frame };
    if (settings.accent) setAccent(settings.accent);

    button.addEventListener('click', function () { toggle(); });
    // Escape closes the open chat from its launcher too (Shift+Tab leads there from the chat);
    // only here, never on the host page, whose own Escape handling stays untouched.
    button.addEventListener('keydown', function (e) {
      if (e.key === 'Escape' && isOpen) { e.preventDefault(); e.stopPropagation(); setOpen(false, false); }
    });
    if (settings.open) setOpen(true, false);
  }

  function post(msg) {
    if (ui && ui.frame.contentWindow) ui.frame.contentWindow.postMessage(msg, ORIGIN);
  }

  // On a narrow screen (a phone, or a window zoomed to 400 %) the open panel covers the whole
  // page (the CSS above): the frame then keeps Tab inside the chat, as a dialog does, so that the
  // focus never goes to host-page links hidden behind it. Same breakpoint as the CSS.
  var narrow = window.matchMedia ? window.matchMedia('(max-width:479.98px)') : null;
  function postModal() { post({ attune: 'modal', on: !!(narrow && narrow.matches) }); }
  if (narrow && narrow.addEventListener) narrow.addEventListener('change', postModal);

  function setOpen(open, moveFocus) {
    if (!ui) return;
    isOpen = open;
    ui.frame.classList.toggle('open', open);
    ui.button.setAttribute('aria-expanded', String(open));
    if (open) setUnread(0);
    post({ attune: 'visibility', open: open, focus: !!(open && moveFocus) });
    if (open && moveFocus) ui.frame.focus();
    // Return focus to the launcher only if it was inside the chat, never steal it.
    if (!open && moveFocus && document.activeElement === ui.host) ui.button.focus();
  }

  function setUnread(n) {
    if (!ui) return;
    var show = n > 0 && !isOpen;
    ui.badge.hidden = !show;
    ui.badge.textContent = n > 9 ? '9+' : String(n);
    var text = show ? n + (n === 1 ? ' unread message' : ' unread messages') : '';
    ui.badgeText.textContent = text;
    // Announce a rise only: the count found on page load is old news, and the launcher says it.
    if (show && unreadSeen >= 0 && n > unreadSeen) ui.live.textContent = text + ' in the chat';
    else if (!show) ui.live.textContent = '';
    unreadSeen = n;
  }

  function open() { setOpen(true, true); }
  function close() { setOpen(false, true); }
  function toggle() { setOpen(!isOpen, true); }

  function onReady(fn) {
    if (typeof fn !== 'function') return;
    if (ready) setTimeout(fn, 0);
    else readyFns.push(fn);
  }

  window.addEventListener('message', function (e) {
    // Only our own frame, from our own origin, may talk to the loader.
    if (!ui || e.source !== ui.frame.contentWindow || e.origin !== ORIGIN) return;
    var d = e.data;
    if (!d || typeof d !== 'object' || typeof d.attune !== 'string') return;
    switch (d.attune) {
      case 'ready':
        if (typeof d.title === 'string' && d.title.trim()) {
          title = d.title.trim().slice(0, 200);
          ui.frame.title = title;
        }
        if (!settings.accent && typeof d.accent === 'string') setAccent(d.accent);
        postModal();
        post({ attune: 'visibility', open: isOpen });
        if (!ready) {
          ready = true;
          readyFns.splice(0).forEach(function (fn) {
            try { fn(); } catch (err) { setTimeout(function () { throw err; }); }
          });
          window.dispatchEvent(new CustomEvent('attune:ready', { detail: { title: title } }));
        }
        break;
      case 'unread':
        if (typeof d.count === 'number' && d.count >= 0) setUnread(Math.floor(Math.min(d.count, 999)));
        break;
      case 'close':
        close();
        break;
    }
  });

  // Host-page shortcuts: <button data-attune-open> and <button data-attune-ask="...">.
  document.addEventListener('click', function (e) {
    var el = e.target && e.target.closest && e.target.closest('[data-attune-open],[data-attune-ask]');
    if (!el || !ui) return;
    e.preventDefault();
    open();
    var ask = el.getAttribute('data-attune-ask');
    if (ask) post({ attune: 'prefill', text: ask.slice(0, 500) });
  });

  var api = Object.freeze({
    __attuneLoader: true,
    open: open,
    close: close,
    toggle: toggle,
    onReady: onReady,
  });
  // The page may have a window.Attune of its own (another product, the site's own code): never
  // overwrite it. The chat's API is then window.AttuneChat only, and the console says so.
  // window.AttuneChat is always set, so a page can use that name whatever else it loads.
  if (typeof window.Attune === 'undefined') window.Attune = api;
  else if (window.console && console.warn) {
    console.warn('Attune chat widget: window.Attune is already used by this page and was left as it is; ' +
      'the chat\'s API (open, close, toggle, onReady) is at window.AttuneChat.');
  }
  window.AttuneChat = api;

  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount);
})();
