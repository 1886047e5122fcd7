"""The dashboard's service worker, served at ``/push/sw.js`` for the scope ``/admin/``. It has no words of its
own: the title and body of each notification come, already in the vendor's language, in the push."""

from __future__ import annotations

SERVICE_WORKER = """\
// Shows the bot's push notifications and opens the page each one is about on a click.
"use strict";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

function pageOf(url) {
  // Only a page of this dashboard: a push never sends the browser elsewhere.
  try {
    const target = new URL(url || "/admin", self.location.origin);
    if (target.origin === self.location.origin && target.pathname.startsWith("/admin")) return target.href;
  } catch (error) {}
  return new URL("/admin", self.location.origin).href;
}

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (error) {
    data = {};
  }
  const url = pageOf(data.url);
  event.waitUntil(
    self.registration.showNotification(String(data.title || ""), {
      body: String(data.body || ""),
      data: { url },
      tag: url,
      renotify: true,
    })
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = pageOf(event.notification.data && event.notification.data.url);
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      for (const client of windows) {
        if (client.url === url && "focus" in client) return client.focus();
      }
      for (const client of windows) {
        if ("navigate" in client && "focus" in client) {
          await client.focus();
          return client.navigate(url);
        }
      }
      return self.clients.openWindow(url);
    })()
  );
});
"""
