/*
 * django-cedula replica: a local stand-in for Google's reCAPTCHA v2 "api.js".
 *
 * It renders a checkbox-like widget into every ".g-recaptcha" element (unless loaded with
 * ?render=explicit), creates the hidden textarea#g-recaptcha-response that solving services
 * fill in, and exposes the usual grecaptcha.render / getResponse / reset / ready calls.
 * Nothing here talks to Google: clicking the checkbox asks the replica itself for a fresh token
 * (accepted once, for two minutes, like Google's), and grecaptcha.replicaSolve(token) marks a widget
 * solved from a script.
 */
(function () {
  'use strict';
  if (window.grecaptcha && window.grecaptcha.replica) {
    return;
  }
  var script = document.currentScript;
  var scriptUrl = new URL(script && script.src ? script.src : '/recaptcha/api.js', window.location.href);
  // The replica serves this file at <base>/recaptcha/api.js and its token endpoint next to it.
  var solveUrl = new URL('replica/solve', scriptUrl).href;
  var params = scriptUrl.searchParams;
  var widgets = [];

  function namedFunction(value) {
    if (typeof value === 'function') { return value; }
    if (typeof value === 'string' && typeof window[value] === 'function') { return window[value]; }
    return null;
  }

  function setResponse(widget, token) {
    // Real solvers write the textarea directly; getResponse reads it back, so both paths agree.
    widget.textarea.value = token;
    widget.checkbox.setAttribute('aria-checked', token ? 'true' : 'false');
    widget.checkbox.classList.toggle('recaptcha-checkbox-checked', Boolean(token));
    widget.checkbox.textContent = token ? '\u2714' : '';
    if (token && widget.callback) { widget.callback(token); }
  }

  function fetchToken(widget) {
    return fetch(solveUrl + '?k=' + encodeURIComponent(widget.sitekey), {credentials: 'omit'})
      .then(function (response) { return response.json(); })
      .then(function (answer) { setResponse(widget, answer.token || ''); return answer.token || ''; });
  }

  function render(container, options) {
    if (typeof container === 'string') { container = document.getElementById(container); }
    if (!container) { throw new Error('reCAPTCHA placeholder element must be an element or id'); }
    if (container.getAttribute('data-replica-widget') !== null) {
      throw new Error('reCAPTCHA has already been rendered in this element');
    }
    options = options || {};
    var sitekey = options.sitekey || container.getAttribute('data-sitekey');
    if (!sitekey) { throw new Error('Missing required parameters: sitekey'); }
    var id = widgets.length;
    var suffix = id === 0 ? '' : '-' + id;

    var frame = document.createElement('div');
    frame.className = 'rc-anchor rc-anchor-normal rc-anchor-light';
    frame.style.cssText = 'width:300px;height:74px;border:1px solid #d3d3d3;border-radius:3px;' +
      'background:#f9f9f9;display:flex;align-items:center;font-family:Roboto,Arial,sans-serif;' +
      'box-shadow:0 0 4px 1px rgba(0,0,0,.08);box-sizing:border-box;padding:0 12px;';
    var checkbox = document.createElement('span');
    checkbox.id = 'recaptcha-anchor' + suffix;
    checkbox.className = 'recaptcha-checkbox';
    checkbox.setAttribute('role', 'checkbox');
    checkbox.setAttribute('aria-checked', 'false');
    checkbox.setAttribute('tabindex', '0');
    checkbox.style.cssText = 'width:24px;height:24px;border:2px solid #c1c1c1;border-radius:2px;' +
      'background:#fff;cursor:pointer;display:inline-flex;align-items:center;justify-content:center;' +
      'color:#009e55;font-size:20px;';
    var label = document.createElement('label');
    label.setAttribute('for', checkbox.id);
    label.textContent = 'No soy un robot';
    label.style.cssText = 'display:inline-block;margin:0 0 0 12px;font-size:14px;font-weight:normal;flex:1;';
    var brand = document.createElement('div');
    brand.className = 'rc-anchor-logo-text';
    brand.style.cssText = 'font-size:10px;color:#555;text-align:center;';
    brand.innerHTML = 'reCAPTCHA<br><small>réplica local</small>';
    // Real pages carry a hidden challenge frame; its words must not look like a block to clients.
    var challenge = document.createElement('div');
    challenge.className = 'rc-imageselect-challenge';
    challenge.hidden = true;
    challenge.textContent = 'challenge';
    frame.appendChild(checkbox);
    frame.appendChild(label);
    frame.appendChild(brand);
    frame.appendChild(challenge);

    var textarea = document.createElement('textarea');
    textarea.id = 'g-recaptcha-response' + suffix;
    textarea.name = 'g-recaptcha-response';
    textarea.className = 'g-recaptcha-response';
    textarea.style.cssText = 'width:250px;height:40px;border:1px solid #c1c1c1;margin:10px 25px;' +
      'padding:0;resize:none;display:none;';

    container.setAttribute('data-replica-widget', String(id));
    container.appendChild(frame);
    container.appendChild(textarea);

    var widget = {
      id: id,
      sitekey: sitekey,
      container: container,
      checkbox: checkbox,
      textarea: textarea,
      callback: namedFunction(options.callback || container.getAttribute('data-callback'))
    };
    widgets.push(widget);
    checkbox.addEventListener('click', function () { fetchToken(widget); });
    checkbox.addEventListener('keydown', function (event) {
      if (event.key === ' ' || event.key === 'Enter') { event.preventDefault(); fetchToken(widget); }
    });
    return id;
  }

  function widgetFor(id) {
    return widgets[id === undefined || id === null ? 0 : id];
  }

  window.grecaptcha = {
    replica: true,
    render: render,
    getResponse: function (id) {
      var widget = widgetFor(id);
      return widget ? widget.textarea.value : '';
    },
    reset: function (id) {
      var widget = widgetFor(id);
      if (widget) { setResponse(widget, ''); }
    },
    ready: function (callback) {
      if (document.readyState === 'loading') {
        document.addEventListener('DOMContentLoaded', function () { callback(); });
      } else {
        window.setTimeout(callback, 0);
      }
    },
    // Replica only: mark a widget solved with ``token``, or with a fresh token from the replica when omitted.
    replicaSolve: function (token, id) {
      var widget = widgetFor(id);
      if (!widget) { return Promise.reject(new Error('no reCAPTCHA widget rendered')); }
      if (typeof token === 'string') { setResponse(widget, token); return Promise.resolve(token); }
      return fetchToken(widget);
    }
  };

  function start() {
    if (params.get('render') !== 'explicit') {
      var placeholders = document.querySelectorAll('.g-recaptcha');
      for (var i = 0; i < placeholders.length; i += 1) {
        if (placeholders[i].getAttribute('data-replica-widget') === null) { render(placeholders[i]); }
      }
    }
    var onload = namedFunction(params.get('onload'));
    if (onload) { onload(); }
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
