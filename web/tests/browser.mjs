// Browser test of the web client (run by crates/pvs/tests/browser.rs against `pvs up --demo`):
// headless Debian Chromium loads the page, the demo layer's tiles load with no console error
// and the map canvas shows imagery, the time control drives the WMTS TIME of the tile
// requests, a search lists the demo products, and a screenshot is saved. The STAC search
// view has its own test, stac-browser.mjs.
//
//   node tests/browser.mjs http://127.0.0.1:8080/ screenshot.png
//
// Exits 0 when every check passes; otherwise prints what failed and exits 1.
import { args, session } from './harness.mjs';

const { url, screenshot } = args('tests/browser.mjs');

await session(url, async ({ page, check }) => {
  // Tile requests as {layer, time}, whether OpenLayers asks by KVP or RESTful URLs.
  const tileRequests = [];
  page.on('request', (request) => {
    const target = new URL(request.url());
    const params = new Map([...target.searchParams].map(([k, v]) => [k.toLowerCase(), v]));
    if (target.pathname.endsWith('/wmts') && params.get('request') === 'GetTile') {
      tileRequests.push({ layer: params.get('layer'), time: params.get('time') });
    } else if (target.pathname.includes('/wmts/1.0.0/') && !target.pathname.endsWith('.xml')) {
      const [layer, , time] = target.pathname.split('/wmts/1.0.0/')[1].split('/');
      tileRequests.push({ layer, time: decodeURIComponent(time) });
    }
  });

  await page.goto(url, { waitUntil: 'load' });
  await page.waitForFunction(() => window.pvs && window.pvs.stats.ready, null, { timeout: 30000 });
  const layers = await page.$$eval('#layer-list input[type=checkbox]', (boxes) => boxes.map((b) => b.dataset.layer));
  check(layers.includes('SAR'), `the layer list shows the demo collection SAR (${layers.join(', ')})`);

  await page.waitForFunction(() => window.pvs.stats.tilesLoaded >= 4, null, { timeout: 60000 });
  const stats = await page.evaluate(() => ({ ...window.pvs.stats }));
  check(stats.tilesFailed === 0, `no tile failed to load (${stats.tilesLoaded} loaded, ${stats.tilesFailed} failed)`);
  check(tileRequests.some((t) => t.layer === 'SAR' && t.time === 'default'), `SAR tiles were asked with TIME=default (${tileRequests.length} tile requests)`);

  // The map canvas shows imagery: pixels neither empty nor the basemap's few flat colours.
  await page.waitForTimeout(500);
  const canvas = await page.evaluate(() => {
    const canvases = [...document.querySelectorAll('#map canvas')];
    let coloured = 0;
    let grey = 0;
    for (const c of canvases) {
      const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 0; i < data.length; i += 4 * 7) {
        if (data[i + 3] === 0) continue;
        coloured += 1;
        const [r, g, b] = [data[i], data[i + 1], data[i + 2]];
        // SAR browses are grey levels; the basemap and the page are not grey.
        if (Math.abs(r - g) < 6 && Math.abs(g - b) < 6 && r > 8 && r < 235) grey += 1;
      }
    }
    return { canvases: canvases.length, coloured, grey };
  });
  check(canvas.coloured > 0, `the map canvas is not empty (${canvas.coloured} sampled pixels drawn)`);
  check(canvas.grey > 500, `the map shows SAR imagery (${canvas.grey} grey pixels sampled)`);

  // The time control: the slider's first product interval sets TIME on the tile requests.
  const max = Number(await page.$eval('#time-slider', (s) => s.max));
  check(max >= 1, `the time slider has the demo's product intervals (${max})`);
  const before = tileRequests.length;
  const loadedBefore = await page.evaluate(() => window.pvs.stats.tilesLoaded);
  await page.$eval('#time-slider', (slider) => {
    slider.value = '1';
    slider.dispatchEvent(new Event('input', { bubbles: true }));
  });
  const time = await page.evaluate(() => window.pvs.stats.time);
  check(/^\d{4}-\d\d-\d\dT.*(--|\/)\d{4}-\d\d-\d\dT/.test(time), `the slider selects an interval (${time})`);
  // Wait for the request itself (tiles still loading from before the change may finish
  // first), then for a tile to load after the change.
  const timedRequests = () => tileRequests.slice(before).filter((t) => t.layer === 'SAR' && t.time === time);
  const deadline = Date.now() + 30000;
  while (timedRequests().length === 0 && Date.now() < deadline) await page.waitForTimeout(100);
  await page.waitForFunction((n) => window.pvs.stats.tilesLoaded > n, loadedBefore, { timeout: 30000 });
  const timed = timedRequests();
  check(timed.length > 0, `tiles are asked with the selected TIME (${timed.length} of ${tileRequests.length - before} new tile requests)`);

  // The range picker.
  await page.fill('#time-start', '2010-07-01T00:00:00');
  await page.fill('#time-end', '2010-08-31T23:59:59');
  await page.click('#time-apply');
  const range = await page.evaluate(() => window.pvs.stats.time);
  check(range === '2010-07-01T00:00:00Z--2010-08-31T23:59:59Z', `the range picker sets TIME (${range})`);

  // Search in the view and the range.
  await page.click('#search-run');
  await page.waitForFunction(() => window.pvs.stats.searches > 0, null, { timeout: 30000 });
  const results = await page.$$eval('#search-results li', (items) => items.map((li) => li.dataset.id));
  check(results.length >= 1, `the search lists demo products (${results.join(', ')})`);
  if (results.length) {
    await page.click('#search-results li');
    const selected = await page.$$eval('#search-results li.selected', (items) => items.length);
    check(selected === 1, 'a clicked result is highlighted');
  }

  // The ingest status panel.
  await page.waitForFunction(() => document.querySelectorAll('#status-stages tbody tr').length === 3, null, { timeout: 15000 });
  const registered = await page.$eval('#status-stages tbody tr:nth-child(2) td:nth-child(3)', (td) => Number(td.textContent));
  check(registered >= 1, `the status panel shows registered products (${registered})`);

  // Back to all times, every layer in view and the footprints shown, for the screenshot.
  await page.click('#time-all');
  await page.click('#zoom-all');
  await page.check('#layer-list input[data-layer="SAR__outlines"]');
  const loaded = await page.evaluate(() => window.pvs.stats.tilesLoaded);
  await page.waitForFunction((n) => window.pvs.stats.tilesLoaded > n, loaded, { timeout: 30000 });
  await page.waitForTimeout(1500);
  await page.screenshot({ path: screenshot });
});
