// Speed a person feels, measured in headless Chromium (issue 23): the list page's HTML size (25 and
// 500 rows, before compression), the 500-row page painted (the Performance API's first contentful
// paint and DOMContentLoaded), and a sort or page swap from the click to the new rows painted.
//
//   node bench/ui.mjs http://127.0.0.1:3000 [ROUNDS]      (a console in demo mode; bench/ui.sh starts one)
import { Browser } from "./webdriver.mjs";

const base = process.argv[2] || "http://127.0.0.1:3000";
const rounds = Number(process.argv[3] || 5);
const corp = process.env.CORP || "NORTHSTAR-ISD";
const list = `/devices/${corp}`;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

const b = await Browser.start();
try {
  await b.signIn(base, "tech", list);

  // HTML bytes as the browser receives them (decoded, before compression).
  const bytes = async (path) =>
    b.execAsync(`const done = arguments[0];
      fetch(${JSON.stringify(base + path)}).then(r => r.text()).then(t => done(new TextEncoder().encode(t).length));`);
  const html25 = await bytes(list);
  const html500 = await bytes(`${list}?limit=500`);

  // The 500-row page loaded fresh: first contentful paint and DOMContentLoaded, from navigation start.
  const paints = [];
  const dcls = [];
  for (let i = 0; i < rounds; i++) {
    await b.goto(`${base}${list}?limit=500&r=${i}`);
    const t = await b.waitFor(`const p = performance.getEntriesByName("first-contentful-paint")[0];
      const n = performance.getEntriesByType("navigation")[0];
      return p && n && n.domContentLoadedEventEnd > 0 ? [p.startTime, n.domContentLoadedEventEnd] : null;`, "the 500-row page's paint");
    paints.push(t[0]);
    dcls.push(t[1]);
  }

  // A swap: click a sort header (or the next page), wait for htmx to settle, then for the next frame.
  const swap = async (css) => b.execAsync(`const done = arguments[0];
    const start = performance.now();
    document.addEventListener("htmx:afterSettle", function once() {
      document.removeEventListener("htmx:afterSettle", once);
      requestAnimationFrame(() => setTimeout(() => done(performance.now() - start), 0));
    });
    document.querySelector(${JSON.stringify(css)}).click();`);
  const sorts = [];
  const pages = [];
  for (let i = 0; i < rounds; i++) {
    await b.goto(`${base}${list}`);
    await b.waitFor(`return document.querySelectorAll("table#devices tbody tr").length === 25`, "the list");
    sorts.push(await swap("th a[data-sort=STATUS]"));
    pages.push(await swap("a[rel=next]"));
  }

  const ms = (x) => `${Math.round(x)} ms`;
  console.log("| figure | measured | target |");
  console.log("| --- | --- | --- |");
  console.log(`| 25-row list page, HTML before compression | ${(html25 / 1024).toFixed(1)} KB | ≤ 20 KB |`);
  console.log(`| 500-row list page, HTML before compression | ${(html500 / 1024).toFixed(1)} KB | — |`);
  console.log(`| 500-row page: first contentful paint (median of ${rounds}) | ${ms(median(paints))} | ≤ 400 ms |`);
  console.log(`| 500-row page: DOMContentLoaded (median of ${rounds}) | ${ms(median(dcls))} | — |`);
  console.log(`| sort swap, click to painted (median of ${rounds}) | ${ms(median(sorts))} | ≤ 200 ms |`);
  console.log(`| page swap, click to painted (median of ${rounds}) | ${ms(median(pages))} | ≤ 200 ms |`);
} finally {
  await b.quit();
}
