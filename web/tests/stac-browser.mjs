// Browser test of the STAC search view (run by crates/pvs/tests/browser.rs against `pvs up
// --demo` once its seven products are registered): headless Debian Chromium opens the STAC
// tab, searches collection SAR in the map view and July–August 2010, newest first, five per
// page; the count shown is what `/stac/search` answers (and what the test's own search of the
// STAC API answers), the footprints are drawn, the second page comes from the first page's
// `next` link; an Item's details show its properties and assets; its WMS button asks the
// Item's `wms` web-map-link for a GetMap that loads; the property filter sends CQL2 text; the
// OpenSearch tab still searches. Screenshots: the results (SCREENSHOT.png) and an Item's
// details with the product on the map (SCREENSHOT-details.png).
//
//   node tests/stac-browser.mjs http://127.0.0.1:8080/ screenshot.png
import { args, session } from './harness.mjs';

const { url, screenshot } = args('tests/stac-browser.mjs');
const FROM = '2010-07-01T00:00:00';
const TO = '2010-08-31T23:59:59';
const DATETIME = `${FROM}Z/${TO}Z`;

/** The test's own reading of the STAC API, through the links of its landing page. */
async function get(address) {
  const response = await fetch(address);
  if (!response.ok) throw new Error(`GET ${address}: HTTP ${response.status}: ${await response.text()}`);
  return response.json();
}
const linkOf = (document, rel, method) =>
  document.links.find((l) => l.rel === rel && (!method || (l.method || 'GET') === method))?.href;
const landing = await get(new URL('stac', url).href);
const searchHref = linkOf(landing, 'search', 'GET');
const collectionsDocument = await get(linkOf(landing, 'data'));
const sar = collectionsDocument.collections.find((c) => c.id === 'SAR');
async function ownSearch(params) {
  const address = new URL(searchHref);
  for (const [name, value] of Object.entries(params)) address.searchParams.set(name, value);
  return get(address.href);
}
const every = await ownSearch({ collections: 'SAR', datetime: DATETIME, limit: '100' });
const everyIds = every.features.map((f) => f.id).sort();
const time = (feature) => feature.properties.datetime || feature.properties.start_datetime;

await session(url, async ({ page, check }) => {
  check(Boolean(sar), 'the STAC API lists the collection SAR');
  check(every.numberMatched === 7 && everyIds.length === 7, `the STAC API finds the 7 demo products (${every.numberMatched})`);

  // Every search request the page makes (GET and POST), and the WMS GetMaps.
  const searches = [];
  const getMaps = [];
  page.on('request', (request) => {
    if (request.url().split('?')[0] === searchHref) searches.push(request);
    const params = new Map([...new URL(request.url()).searchParams].map(([k, v]) => [k.toUpperCase(), v]));
    if (params.get('REQUEST') === 'GetMap') getMaps.push({ url: request.url(), params, request });
  });
  const stats = () => page.evaluate(() => ({ ...window.pvs.stats }));
  const entries = () => page.$$eval('#stac-results li', (items) => items.map((li) => li.dataset.id));
  /** Clicks `selector` and reads the search answer it causes, once the panel shows it. */
  async function searchBy(selector) {
    const done = (await stats()).stacSearches;
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().split('?')[0] === searchHref, { timeout: 30000 }),
      page.click(selector),
    ]);
    const answer = await response.json();
    await page.waitForFunction((n) => window.pvs.stats.stacSearches > n, done, { timeout: 30000 });
    return { request: response.request(), answer };
  }

  await page.goto(url, { waitUntil: 'load' });
  await page.waitForFunction(() => window.pvs && window.pvs.stats.ready, null, { timeout: 30000 });
  check(await page.isHidden('#stac'), 'the OpenSearch tab is shown first');
  await page.click('#zoom-all');
  await page.click('#tab-stac');
  await page.waitForFunction(() => window.pvs.stats.stacReady, null, { timeout: 30000 });
  const options = await page.$$eval('#stac-collection option', (o) => o.map((x) => x.value));
  check(options.includes('SAR'), `the collection select lists the STAC collections (${options.join(', ')})`);

  // The first page: SAR, the view, two months, newest first, five per page.
  await page.selectOption('#stac-collection', 'SAR');
  await page.fill('#stac-start', FROM);
  await page.fill('#stac-end', TO);
  await page.selectOption('#stac-limit', '5');
  await page.selectOption('#stac-sort', 'desc');
  const first = await searchBy('#stac-run');
  const sent = new URL(first.request.url()).searchParams;
  check(first.request.method() === 'GET' && sent.get('collections') === 'SAR' && sent.get('datetime') === DATETIME
    && sent.get('limit') === '5' && sent.get('sortby') === '-properties.datetime' && sent.get('bbox')?.split(',').length === 4,
  `the search asks for SAR, the view, the dates, 5 per page, newest first (${first.request.url()})`);
  const matched = first.answer.numberMatched;
  const total = await page.textContent('#stac-total');
  let state = await stats();
  check(matched === every.numberMatched && state.stacMatched === matched && total.startsWith(`${matched} matched, 1–5 shown`),
    `the count shown is what /stac/search answers (shown "${total}", answered ${matched}, the test's search ${every.numberMatched})`);
  const page1 = await entries();
  check(JSON.stringify(page1) === JSON.stringify(first.answer.features.map((f) => f.id)) && page1.length === 5,
    `the first page lists the answer's 5 Items in its order (${page1.join(', ')})`);
  check(state.stacFootprints === 5, `their footprints are drawn (${state.stacFootprints})`);
  const times1 = first.answer.features.map(time);
  check(times1.every((t, i) => i === 0 || times1[i - 1] >= t), `newest first (${times1.join(', ')})`);
  check(await page.isVisible('#stac-next'), 'there is a next page');
  await page.mouse.move(1, 790); // off the list, which came under the pointer: no hover
  await page.waitForTimeout(800); // the map's footprints drawn
  await page.screenshot({ path: screenshot });

  // The second page, by the first page's `next` link exactly.
  const nextHref = linkOf(first.answer, 'next');
  const second = await searchBy('#stac-next');
  check(second.request.url() === nextHref, `the next page is the next link (${second.request.url()})`);
  const page2 = await entries();
  state = await stats();
  check(page2.length === 2 && state.stacPage === 2 && (await page.textContent('#stac-total')).startsWith(`${matched} matched, 6–7 shown`),
    `the second page lists Items 6–7 (${page2.join(', ')})`);
  check(JSON.stringify([...page1, ...page2].sort()) === JSON.stringify(everyIds), 'the two pages list every product once');
  check(time(second.answer.features[0]) <= times1[4], 'the second page goes on back in time');
  check(await page.isHidden('#stac-next'), 'the last page has no next page');

  // An Item's details.
  const item = second.answer.features[0];
  await page.click(`#stac-results li[data-id="${item.id}"]`);
  await page.waitForSelector('#stac-details', { state: 'visible' });
  check((await page.textContent('#stac-item-id')) === item.id, `the details show ${item.id}`);
  const rows = await page.$$eval('#stac-properties tbody tr', (trs) => trs.map((tr) => [tr.cells[0].textContent, tr.cells[1].textContent]));
  const shownProperties = Object.fromEntries(rows);
  const properties = Object.entries(item.properties).filter(([, v]) => v !== null);
  check(properties.length > 0 && properties.every(([k, v]) => shownProperties[k] === (typeof v === 'object' ? JSON.stringify(v) : String(v))),
    `the properties table shows the Item's properties (${rows.map((r) => r[0]).join(', ')})`);
  const assetLinks = await page.$$eval('#stac-assets li', (lis) => lis.map((li) => [li.dataset.key, li.querySelector('a')?.href]));
  const assets = Object.entries(item.assets).map(([key, a]) => [key, a.href]);
  check(JSON.stringify(assetLinks) === JSON.stringify(assets), `the asset links are the Item's (${assetLinks.map((a) => a[0]).join(', ')})`);
  const data = await fetch(item.assets.data.href, { headers: { Range: 'bytes=0-3' } });
  const magic = Buffer.from(await data.arrayBuffer()).toString('latin1');
  check(data.status === 206 && ['II*\0', 'MM\0*'].includes(magic), `the data asset link gives the COG (${data.status})`);
  const thumbnail = await page
    .waitForFunction(() => document.getElementById('stac-thumbnail').naturalWidth, null, { timeout: 30000 })
    .then((width) => width.jsonValue())
    .catch(() => 0);
  check(thumbnail > 0 && (await page.getAttribute('#stac-thumbnail', 'src')) === item.assets.thumbnail.href,
    `the thumbnail asset shows (${thumbnail} pixels wide)`);

  // The product on the map through its `wms` web-map-link.
  const wms = item.links.find((l) => l.rel === 'wms');
  const before = getMaps.length;
  await page.click('#stac-wms');
  await page.waitForFunction(() => window.pvs.stats.wmsLoaded > 0 || window.pvs.stats.wmsFailed > 0, null, { timeout: 30000 });
  state = await stats();
  const asked = getMaps.slice(before).filter((g) => g.url.split('?')[0] === wms.href && g.params.get('CRS') === 'EPSG:3857');
  check(asked.length > 0 && asked.every((g) => g.params.get('LAYERS') === wms['wms:layers'].join(',')),
    `the WMS button asks ${wms.href} for LAYERS=${wms['wms:layers']} (${asked.length} GetMap)`);
  const answered = asked.length ? await asked[0].request.response() : null;
  check(state.wmsLoaded > 0 && state.wmsFailed === 0 && answered?.status() === 200 && answered.headers()['content-type'] === 'image/png',
    `the product's GetMap loads (${state.wmsLoaded} loaded, ${state.wmsFailed} failed, HTTP ${answered?.status()})`);
  check(state.wmsShown === item.id && (await page.textContent('#stac-shown-id')) === item.id, 'the panel says which product is on the map');
  await page.waitForTimeout(800);
  await page.screenshot({ path: screenshot.replace(/\.png$/, '-details.png') });
  await page.click('#stac-back');
  check(await page.isVisible('#stac-results'), 'back to the results');
  await page.click('#stac-wms-remove');
  check((await stats()).wmsShown === null && (await page.isHidden('#stac-shown')), 'the product leaves the map');

  // The property filter, offered as the collection's queryables list numeric properties.
  const queryables = await get(linkOf(sar, 'http://www.opengis.net/def/rel/ogc/1.0/queryables'));
  const numeric = Object.entries(queryables.properties).filter(([, s]) => s.type === 'number').map(([n]) => n);
  const offered = await page.$$eval('#stac-filter-property option', (o) => o.map((x) => x.value));
  check(JSON.stringify(offered) === JSON.stringify(numeric) && (numeric.length === 0) === (await page.isHidden('#stac-filter')),
    `the filter offers the numeric queryables (${offered.join(', ')})`);
  if (numeric.includes('eo:cloud_cover')) {
    await page.selectOption('#stac-filter-property', 'eo:cloud_cover');
    await page.selectOption('#stac-filter-op', '<=');
    await page.fill('#stac-filter-value', '50');
    const filtered = await searchBy('#stac-run');
    const filterSent = new URL(filtered.request.url()).searchParams;
    check(filterSent.get('filter') === 'eo:cloud_cover <= 50' && filterSent.get('filter-lang') === 'cql2-text',
      `the filter goes as CQL2 text (${filterSent.get('filter')})`);
    const own = await ownSearch({ collections: 'SAR', datetime: DATETIME, filter: 'eo:cloud_cover <= 50', 'filter-lang': 'cql2-text' });
    check((await stats()).stacMatched === own.numberMatched, `the filtered count is the API's (${own.numberMatched})`);
  }

  // The OpenSearch tab still searches.
  await page.click('#tab-opensearch');
  await page.click('#search-run');
  await page.waitForFunction(() => window.pvs.stats.searches > 0, null, { timeout: 30000 });
  const openSearch = await page.$$eval('#search-results li', (items) => items.length);
  check(openSearch >= 1, `the OpenSearch tab lists products (${openSearch})`);
});
