// The sandbox page: shows what the bot sends (server-sent events from /sandbox/events) in the right phone,
// and posts what is typed or tapped in a phone to /sandbox/send and /sandbox/reply, which hand it to the
// bot as signed WhatsApp webhooks. Every word comes from the page (bot/templates/sandbox/).
(() => {
  "use strict";

  const config = JSON.parse(document.body.dataset.config);
  const W = config.words;
  const vendorPanel = document.getElementById("vendor-phone");
  const customerPanel = document.getElementById("customer-phone");
  // The Instagram customer's own phone (its messages are those of "phone" ig:<their id>), when there is one.
  const instagramPanel = document.getElementById("instagram-phone");
  const instagramKey = config.instagram ? config.instagram.key : null;
  const panels = [vendorPanel, customerPanel, instagramPanel].filter(Boolean);
  const select = document.getElementById("customer-select");
  const messages = new Map();
  const unread = new Map();
  const labels = new Map();
  const STORE_KEY = "sandbox.customer";
  let current = null;

  const clockTime = new Intl.DateTimeFormat(config.locale, {
    hour: "2-digit", minute: "2-digit", timeZone: config.timezone,
  });

  // -- customers --------------------------------------------------------------------------------------

  function optionFor(phone) {
    return Array.from(select.options).find((option) => option.value === phone);
  }

  function addCustomer(phone, name) {
    if (!phone || phone === config.vendorPhone) return;
    if (!optionFor(phone)) {
      const label = (name ? `${name} · ` : "") + `+${phone}`;
      labels.set(phone, label);
      select.add(new Option(label, phone));
    }
  }

  function showUnread(phone) {
    const option = optionFor(phone);
    if (!option) return;
    const base = labels.get(phone) || option.textContent;
    labels.set(phone, base);
    const count = unread.get(phone) || 0;
    option.textContent = count ? `${base} (${count} ${W.new_messages})` : base;
  }

  function choose(phone) {
    current = phone || null;
    if (current) {
      select.value = current;
      unread.delete(current);
      showUnread(current);
      try { sessionStorage.setItem(STORE_KEY, current); } catch (_) { /* private mode */ }
    }
    renderPanel(customerPanel);
  }

  // -- bubbles ----------------------------------------------------------------------------------------

  function phoneOf(panel) {
    if (panel === instagramPanel) return instagramKey;
    return panel === vendorPanel ? config.vendorPhone : current;
  }

  function panelFor(phone) {
    if (phone && phone === config.vendorPhone) return vendorPanel;
    if (phone && instagramPanel && phone === instagramKey) return instagramPanel;
    if (phone && phone === current) return customerPanel;
    return null;
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  // Text with its web addresses as links (opened in a new tab, like WhatsApp opens the browser).
  function richText(text) {
    const paragraph = el("p", "text");
    paragraph.dir = "auto"; // a Hebrew message reads right to left whatever the page's language
    for (const part of text.split(/(https?:\/\/[^\s]+)/)) {
      if (/^https?:\/\//.test(part)) {
        const link = el("a", null, part);
        link.href = part;
        link.target = "_blank";
        link.rel = "noopener";
        paragraph.append(link);
      } else if (part) {
        paragraph.append(document.createTextNode(part));
      }
    }
    return paragraph;
  }

  function ticks(message) {
    const status = message.status;
    const mark = { sending: "🕓", sent: "✓", delivered: "✓✓", read: "✓✓", failed: "!" }[status] || "";
    const span = el("span", `ticks ${status}`);
    span.setAttribute("aria-hidden", "true");
    span.textContent = mark;
    span.title = W[status] || status;
    const words = el("span", "visually-hidden", W[status] || status);
    const wrap = el("span", "status");
    wrap.append(span, words);
    return wrap;
  }

  function replyButton(message, choice, label) {
    const button = el("button", null);
    button.type = "button";
    button.append(document.createTextNode(label || choice.title));
    if (choice.description) button.append(el("small", null, choice.description));
    button.addEventListener("click", () => {
      sendInTurn(message.phone, "/sandbox/reply", { phone: message.phone, context: message.id, id: choice.id });
    });
    return button;
  }

  function bubble(message) {
    const item = el("li", `bubble ${message.side}`);
    item.dataset.id = message.id;
    if (message.template) item.append(el("span", "badge", `${W.template} · ${message.template}`));
    if (message.header) item.append(el("p", "head", message.header));
    item.append(richText(message.text));
    if (message.footer) item.append(el("p", "foot", message.footer));
    const meta = el("span", "meta");
    meta.append(el("time", null, clockTime.format(new Date(message.at))));
    meta.lastChild.dateTime = message.at;
    meta.append(ticks(message));
    item.append(meta);
    if (message.side !== "bot") return item;
    const actions = el("div", "actions");
    for (const choice of message.buttons || []) actions.append(replyButton(message, choice));
    if (message.rows && message.rows.length) {
      const details = el("details");
      details.append(el("summary", null, message.list_button || W.list_hint));
      const rows = el("ul", "rows");
      rows.setAttribute("aria-label", message.list_button || W.list_hint);
      let section = null;
      for (const row of message.rows) {
        if (row.section && row.section !== section) {
          section = row.section;
          rows.append(el("li", "section", section));
        }
        const entry = el("li");
        entry.append(replyButton(message, row));
        rows.append(entry);
      }
      details.append(rows);
      details.addEventListener("toggle", () => {
        if (details.open) rows.lastElementChild.scrollIntoView({ block: "nearest" });
      });
      actions.append(details);
    }
    for (const link of message.links || []) {
      const anchor = el("a", null, `↗ ${link.title}`);
      anchor.href = link.url;
      anchor.target = "_blank";
      anchor.rel = "noopener";
      actions.append(anchor);
    }
    if (actions.childElementCount) item.append(actions);
    return item;
  }

  function chatOf(panel) {
    return panel.querySelector(".chat");
  }

  function scrollDown(list) {
    list.scrollTop = list.scrollHeight;
  }

  function renderPanel(panel) {
    const list = chatOf(panel);
    list.replaceChildren();
    const phone = phoneOf(panel);
    const shown = Array.from(messages.values())
      .filter((message) => message.phone === phone)
      .sort((a, b) => a.order - b.order);
    if (!shown.length) list.append(el("li", "empty", W.empty));
    for (const message of shown) list.append(bubble(message));
    scrollDown(list);
  }

  // -- one phone at a time on a narrow screen ----------------------------------------------------------

  const narrow = window.matchMedia("(max-width: 720px)");
  const switches = Array.from(document.querySelectorAll("[data-show]"));
  const away = new Map(); // panel -> bot messages it got while the other phone was shown
  let shownPanel = vendorPanel;

  function showPhone(panel) {
    shownPanel = panel;
    away.set(panel, 0);
    for (const button of switches) {
      const mine = button.dataset.show === panel.id;
      button.setAttribute("aria-pressed", String(mine));
      if (mine) button.querySelector(".unread").textContent = "";
    }
    for (const other of panels) other.classList.toggle("away", other !== panel);
    scrollDown(chatOf(panel));
  }

  function news(panel) {
    if (!narrow.matches || panel === shownPanel) return;
    const count = (away.get(panel) || 0) + 1;
    away.set(panel, count);
    const button = switches.find((b) => b.dataset.show === panel.id);
    if (button) button.querySelector(".unread").textContent = `${count} ${W.new_messages}`;
  }

  for (const button of switches) {
    button.addEventListener("click", () => showPhone(document.getElementById(button.dataset.show)));
  }

  // -- the customer's place on a wide screen: the WhatsApp customer or the Instagram one ----------------

  const tabs = Array.from(document.querySelectorAll("[data-tab]"));
  const tabAway = new Map(); // panel -> bot messages it got while the other customer was shown
  let wideCustomer = customerPanel;

  function showCustomer(panel) {
    wideCustomer = panel;
    tabAway.set(panel, 0);
    for (const other of [customerPanel, instagramPanel].filter(Boolean)) {
      other.classList.toggle("wide-away", other !== panel);
    }
    for (const button of tabs) {
      if (button.dataset.tab === panel.id) button.querySelector(".unread").textContent = "";
    }
    scrollDown(chatOf(panel));
  }

  function tabNews(panel) {
    if (narrow.matches || !instagramPanel || panel === vendorPanel || panel === wideCustomer) return;
    const count = (tabAway.get(panel) || 0) + 1;
    tabAway.set(panel, count);
    for (const button of tabs) {
      if (button.dataset.tab === panel.id) button.querySelector(".unread").textContent = `${count} ${W.new_messages}`;
    }
  }

  for (const button of tabs) {
    button.addEventListener("click", () => showCustomer(document.getElementById(button.dataset.tab)));
  }

  function place(message, fresh) {
    const panel = panelFor(message.phone);
    if (!panel) {
      if (message.side === "bot") {
        unread.set(message.phone, (unread.get(message.phone) || 0) + 1);
        showUnread(message.phone);
      }
      return;
    }
    const list = chatOf(panel);
    const node = bubble(message);
    const existing = Array.from(list.children).find((child) => child.dataset.id === message.id);
    if (existing) {
      existing.replaceWith(node);
      return;
    }
    const empty = list.querySelector(".empty");
    if (empty) empty.remove();
    const later = Array.from(list.children).find((child) => {
      const other = messages.get(child.dataset.id);
      return other && other.order > message.order;
    });
    list.insertBefore(node, later || null);
    scrollDown(list);
    if (fresh && message.side === "bot") {
      news(panel);
      tabNews(panel);
    }
  }

  // -- talking to the server --------------------------------------------------------------------------

  async function post(url, data) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(data),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(text || response.statusText);
    return text ? JSON.parse(text) : {};
  }

  // One message at a time, in the order typed or tapped, as a phone sends them: posted all at once, the
  // bot could receive (and the chat show) them in another order.
  let sending = Promise.resolve();
  function sendInTurn(phone, url, data) {
    sending = sending.then(() => post(url, data).catch((error) => showError(phone, error)));
  }

  function showError(phone, error) {
    const panel = panelFor(phone) || vendorPanel;
    const list = chatOf(panel);
    const note = el("li", "warning", `${W.send_failed} ${error.message}`);
    note.setAttribute("role", "alert");
    list.append(note);
    scrollDown(list);
  }

  function follow() {
    const source = new EventSource("/sandbox/events");
    let instance = null;
    let history = 0; // the events up to this one were sent before the page connected
    source.addEventListener("hello", (event) => {
      const hello = JSON.parse(event.data);
      const run = hello.instance;
      history = hello.last;
      if (instance !== null && run !== instance) {
        // The bot restarted: its history starts again, and so do the page's and its clock.
        messages.clear();
        clock.offset = 0;
        showClock();
        for (const panel of panels) renderPanel(panel);
      }
      instance = run;
    });
    source.addEventListener("message", (event) => {
      const message = JSON.parse(event.data).message;
      messages.set(message.id, message);
      if (message.phone !== config.vendorPhone && !message.phone.startsWith("ig:")) {
        addCustomer(message.phone, "");
        if (!current) choose(message.phone);
      }
      place(message, Number(event.lastEventId) > history);
    });
    source.addEventListener("status", (event) => {
      const data = JSON.parse(event.data);
      const message = messages.get(data.id);
      if (!message) return;
      message.status = data.status;
      const panel = panelFor(message.phone);
      const node = panel && Array.from(chatOf(panel).children).find((child) => child.dataset.id === data.id);
      const old = node && node.querySelector(".status");
      if (old) old.replaceWith(ticks(message));
    });
    source.addEventListener("clock", (event) => clockMoved(JSON.parse(event.data)));
  }

  // -- the clock --------------------------------------------------------------------------------------

  // Each page words the clock in its own language and keeps it current: the sandbox's time is the server's
  // real time (this browser's, corrected by the skew measured at load) plus the offset "+1 hour" adds.
  const clockLabel = document.getElementById("clock-label");
  const clockAhead = document.getElementById("clock-ahead");
  const clockDay = new Intl.DateTimeFormat(config.locale, {
    weekday: "long", day: "numeric", month: "long", timeZone: config.timezone,
  });
  const clockHour = new Intl.DateTimeFormat(config.locale, {
    hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: config.timezone,
  });
  const clock = {
    offset: config.clock.offset,
    skew: Date.parse(config.clock.now) - config.clock.offset * 1000 - Date.now(),
  };
  const CLOCK_TICK_MS = 5000;

  function ahead(offset) {
    const hours = Math.floor(offset / 3600);
    if (!hours) return "";
    return W.ahead.replace("{days}", Math.floor(hours / 24)).replace("{hours}", hours % 24);
  }

  function showClock() {
    const now = new Date(Date.now() + clock.skew + clock.offset * 1000);
    clockLabel.textContent = `${clockDay.format(now)}, ${clockHour.format(now)}`;
    clockAhead.textContent = ahead(clock.offset);
  }

  // The offset only grows: an older move, replayed to a page that just loaded, changes nothing.
  function clockMoved(details) {
    if (details.offset > clock.offset) clock.offset = details.offset;
    showClock();
  }

  for (const button of document.querySelectorAll("[data-advance]")) {
    button.addEventListener("click", async () => {
      const buttons = document.querySelectorAll("[data-advance]");
      const result = document.getElementById("clock-result");
      buttons.forEach((b) => { b.disabled = true; });
      try {
        const details = await post(`/sandbox/clock?lang=${config.lang}`, { advance: button.dataset.advance });
        clockMoved(details);
        result.textContent = details.result;
      } catch (error) {
        result.textContent = error.message;
      } finally {
        buttons.forEach((b) => { b.disabled = false; });
      }
    });
  }

  // -- the guide --------------------------------------------------------------------------------------

  // First on the page; on a phone folded to its title, so that the two chats stay near the top.
  const guide = document.getElementById("guide");
  if (guide && narrow.matches) guide.open = false;

  // -- typing -----------------------------------------------------------------------------------------

  for (const form of document.querySelectorAll("form.composer")) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const input = form.querySelector("input");
      const text = input.value.trim();
      if (form.dataset.for === "instagram") {
        if (!text) return;
        input.value = "";
        sendInTurn(instagramKey, "/sandbox/send-instagram", { text });
        return;
      }
      const phone = form.dataset.for === "vendor" ? config.vendorPhone : current;
      if (!text || !phone) return;
      input.value = "";
      sendInTurn(phone, "/sandbox/send", { phone, text });
    });
  }

  select.addEventListener("change", () => choose(select.value));

  document.getElementById("new-customer").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("new-customer-phone");
    const error = document.getElementById("new-customer-error");
    const raw = input.value.trim();
    const digits = raw.replace(/[\s().-]/g, "").replace(/^\+|^00/, "");
    if (!/^[1-9]\d{7,14}$/.test(digits) || digits === config.vendorPhone) {
      error.textContent = W.bad_phone;
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    error.textContent = "";
    input.removeAttribute("aria-invalid");
    input.value = "";
    input.closest("details").open = false;
    addCustomer(digits, "");
    choose(digits);
    document.getElementById("customer-input").focus();
  });

  for (const option of select.options) labels.set(option.value, option.textContent);
  let remembered = null;
  try { remembered = sessionStorage.getItem(STORE_KEY); } catch (_) { /* private mode */ }
  if (remembered) addCustomer(remembered, "");
  choose(remembered || (select.options.length ? select.options[0].value : null));
  renderPanel(vendorPanel);
  if (instagramPanel) renderPanel(instagramPanel);
  showPhone(vendorPanel);
  showClock();
  setInterval(showClock, CLOCK_TICK_MS);
  follow();
})();
