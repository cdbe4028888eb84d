// django-cedula: keeps a {% cedula_status_card %} up to date until its validation is final.
//
// Polls the card's JSON view (data-cedula-status-url) with a backoff (1 s, growing to 15 s while
// nothing changes, back to 1 s on a change or when the next attempt is due), pauses while the tab
// is hidden, and stops once the status is final, or on any answer that is not the view's JSON: a
// 401, 403 or 404, a redirect (a login page: it is never followed), an HTML page. Only a server
// error (5xx), a 429 or no answer at all is waited out, with the backoff. It fills the card's
// data-cedula-* elements and toggles their "hidden" attribute. The next attempt is shown in
// words counted down from the server's own figure ("in about a minute", then "any moment now":
// a delayed job may start some 30 s late) next to the absolute time with its zone; so is the wait
// before "Try again" may be pressed, whose button is enabled when the wait is over (also after the
// polling has stopped). Every text comes from the page or the JSON, translated by the server:
// this script holds none.
//
// Events on the card: "cedula:status" (detail: the JSON) after each answer, "cedula:final" once
// final. Elements anywhere on the page marked data-cedula-hide-when-final are hidden then.
(function () {
  "use strict";

  var FIRST_DELAY = 1000;
  var MAX_DELAY = 15000;
  var FACTOR = 1.5;

  function readInitial(card) {
    var holder = document.getElementById(card.getAttribute("data-cedula-data") || "");
    if (!holder) {
      return null;
    }
    try {
      return JSON.parse(holder.textContent);
    } catch (error) {
      return null;
    }
  }

  function one(card, selector) {
    return card.querySelector(selector);
  }

  function setText(element, text) {
    if (element && element.textContent !== text) {
      element.textContent = text;
    }
  }

  function show(element, visible) {
    if (element) {
      element.hidden = !visible;
    }
  }

  function fillSection(card, name, values) {
    var section = one(card, '[data-cedula-section="' + name + '"]');
    show(section, !!values);
    if (!section || !values) {
      return;
    }
    Object.keys(values).forEach(function (field) {
      var value = values[field] || "";
      var dd = section.querySelector('[data-field="' + field + '"]');
      var dt = section.querySelector('[data-cedula-label="' + field + '"]');
      setText(dd, value);
      show(dd, value !== "");
      show(dt, value !== "");
    });
  }

  function Card(card) {
    this.card = card;
    this.url = card.getAttribute("data-cedula-status-url");
    this.data = readInitial(card);
    this.receivedAt = now();
    this.delay = FIRST_DELAY;
    this.timer = null;
    this.ticker = null;
    this.retryTicker = null;
    this.waiting = false;
    this.stopped = false;
  }

  function now() {
    return window.performance && performance.now ? performance.now() : Date.now();
  }

  Card.prototype.start = function () {
    var self = this;
    if (this.data) {
      this.render(this.data);
    }
    if (!this.url || !this.data || this.data.is_final) {
      this.finish();
      return;
    }
    show(one(this.card, "[data-cedula-live]"), true);
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && self.waiting && !self.stopped) {
        self.waiting = false;
        self.delay = FIRST_DELAY;
        self.poll();
      }
    });
    this.schedule();
  };

  Card.prototype.schedule = function () {
    var self = this;
    if (this.stopped) {
      return;
    }
    if (document.hidden) {
      this.waiting = true; // polled again when the tab is shown
      return;
    }
    var delay = this.delay;
    var next = this.data && this.data.next_attempt;
    if (next && this.remaining() < delay / 1000 + 2) {
      delay = Math.min(delay, 2000); // the retry is due: look more often
    }
    this.timer = window.setTimeout(function () {
      self.poll();
    }, delay);
  };

  // An answer worth waiting out: the server (or a proxy before it) failing or asking to slow down.
  function transient(response) {
    return response.status >= 500 || response.status === 429;
  }

  function isJson(response) {
    return /^application\/json\s*(;|$)/i.test(response.headers.get("Content-Type") || "");
  }

  Card.prototype.poll = function () {
    var self = this;
    window.clearTimeout(this.timer);
    fetch(this.url, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      cache: "no-store",
      // A redirect is not followed: it leads to a login page (a site-wide login requirement, an
      // expired session), whose HTML would be fetched again and again.
      redirect: "manual",
    })
      .then(function (response) {
        if (transient(response)) {
          throw new Error("HTTP " + response.status);
        }
        // Logged out, no validation to follow, a redirect (opaque, status 0), or a page that is
        // not this view's JSON: nothing polling again would change.
        if (!response.ok || response.type === "opaqueredirect" || !isJson(response)) {
          self.stop();
          return null;
        }
        return response.json().then(null, function () {
          self.stop(); // JSON by its header only
          return null;
        });
      })
      .then(function (data) {
        if (data === null || self.stopped) {
          return;
        }
        if (typeof data !== "object" || typeof data.status !== "string") {
          self.stop(); // JSON, but not a validation's
          return;
        }
        var changed = !self.data || self.data.status !== data.status;
        self.data = data;
        self.receivedAt = now();
        self.render(data);
        if (data.is_final) {
          self.finish();
          return;
        }
        self.delay = changed ? FIRST_DELAY : Math.min(self.delay * FACTOR, MAX_DELAY);
        self.schedule();
      })
      .catch(function () {
        // A server restarting is no reason to give up.
        self.delay = Math.min(self.delay * 2, MAX_DELAY);
        self.schedule();
      });
  };

  // Seconds left until a countdown of the JSON ({in_seconds, steps, ...}), by the server's figure.
  Card.prototype.left = function (countdown) {
    if (!countdown) {
      return Infinity;
    }
    return countdown.in_seconds - (now() - this.receivedAt) / 1000;
  };

  Card.prototype.remaining = function () {
    return this.left(this.data && this.data.next_attempt);
  };

  function wordsFor(countdown, remaining) {
    var steps = (countdown && countdown.steps) || [];
    for (var i = 0; i < steps.length; i += 1) {
      if (steps[i].above === null || remaining > steps[i].above) {
        return steps[i].text;
      }
    }
    return null;
  }

  Card.prototype.updateWords = function () {
    var next = this.data && this.data.next_attempt;
    var text = wordsFor(next, this.remaining());
    if (text !== null) {
      setText(one(this.card, "[data-cedula-next-in]"), text);
    }
  };

  // The wait before "Try again": its words counted down, the button enabled once it is over.
  Card.prototype.updateRetry = function () {
    var retry = this.data && this.data.retry;
    var wait = retry && retry.wait;
    var left = this.left(wait);
    var waiting = !!wait && left > 0;
    show(one(this.card, "[data-cedula-retry-wait]"), waiting);
    var button = one(this.card, "[data-cedula-retry-button]");
    if (button) {
      button.disabled = waiting;
    }
    if (waiting) {
      var text = wordsFor(wait, left);
      if (text !== null) {
        setText(one(this.card, "[data-cedula-retry-in]"), text);
      }
    } else {
      window.clearInterval(this.retryTicker);
      this.retryTicker = null;
    }
  };

  Card.prototype.render = function (data) {
    var card = this.card;
    var self = this;
    card.setAttribute("data-status", data.status || "");
    card.setAttribute("data-final", data.is_final ? "true" : "false");
    var line = one(card, "[data-cedula-line]");
    if (line) {
      line.className = "status status-" + data.status;
    }
    setText(one(card, "[data-cedula-status-display]"), data.status_display);
    setText(one(card, "[data-cedula-masked]"), data.cedula_masked);
    setText(one(card, "[data-cedula-message]"), data.message);
    show(one(card, "[data-cedula-spinner]"), !data.is_final);
    fillSection(card, "place", data.place);
    fillSection(card, "novedad", data.novedad);
    var next = data.next_attempt;
    show(one(card, '[data-cedula-section="next-attempt"]'), !!next);
    var at = one(card, "[data-cedula-next-at]");
    if (next && at) {
      at.setAttribute("datetime", next.at);
      at.setAttribute("title", next.time_zone);
      setText(at, next.at_display);
    }
    show(one(card, '[data-cedula-section="retry"]'), !!data.retryable);
    var wait = data.retry && data.retry.wait;
    var retryAt = one(card, "[data-cedula-retry-at]");
    if (wait && retryAt) {
      retryAt.setAttribute("datetime", wait.at);
      retryAt.setAttribute("title", wait.time_zone);
      setText(retryAt, wait.at_display);
    }
    window.clearInterval(this.retryTicker);
    this.retryTicker = null;
    this.updateRetry();
    if (wait && this.left(wait) > 0) {
      // Not stopped with the polling: a final failure's wait runs on after its last poll.
      this.retryTicker = window.setInterval(function () {
        self.updateRetry();
      }, 1000);
    }
    window.clearInterval(this.ticker);
    this.ticker = null;
    if (next) {
      this.updateWords();
      this.ticker = window.setInterval(function () {
        self.updateWords();
      }, 1000);
    }
    card.dispatchEvent(new CustomEvent("cedula:status", { detail: data, bubbles: true }));
  };

  Card.prototype.stop = function () {
    this.stopped = true;
    window.clearTimeout(this.timer);
    window.clearInterval(this.ticker);
    show(one(this.card, "[data-cedula-live]"), false);
  };

  Card.prototype.finish = function () {
    this.stop();
    if (this.data && this.data.is_final) {
      var hidden = document.querySelectorAll("[data-cedula-hide-when-final]");
      for (var i = 0; i < hidden.length; i += 1) {
        hidden[i].hidden = true;
      }
      this.card.dispatchEvent(new CustomEvent("cedula:final", { detail: this.data, bubbles: true }));
    }
  };

  function startAll() {
    var cards = document.querySelectorAll("[data-cedula-status-url]");
    for (var i = 0; i < cards.length; i += 1) {
      if (!cards[i].hasAttribute("data-cedula-started")) {
        cards[i].setAttribute("data-cedula-started", "");
        new Card(cards[i]).start();
      }
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", startAll);
  } else {
    startAll();
  }
})();
