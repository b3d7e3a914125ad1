// The STAC search view. It starts at the API's landing page (`stac`) and uses only the URLs of
// its links: the collections from the `data` link, the search from the `search` link, each
// collection's queryables (a numeric property filter, in CQL2 text, when they list one), the
// pages after the first from their `next` links. The results are listed and drawn on the map;
// an Item's details show its thumbnail, properties and assets, and its `wms` web-map-link on
// the map.

import ImageLayer from 'ol/layer/Image.js';
import ImageWMS from 'ol/source/ImageWMS.js';
import { $, element, inputToIso, messageOf, say } from './dom.js';
import { footprintLayer, resultEntry, selectResult } from './results.js';
import * as stac from './stac.js';

const LANDING = 'stac';
/** The sort field, as the STAC API sort extension names an Item property. */
const SORT_FIELD = 'properties.datetime';

/** What `setupStac` is given: the map, its GeoJSON format, the view's WGS84 box, the stats. */
let context = null;
/** The API once its landing page is read (`stac.openApi`), and the reading under way. */
let api = null;
let opening = null;
/** The collections by id (their queryables links). */
const collections = new Map();
/** The footprints of the page shown, the Items on it by id, and the request of the next page. */
let footprints = null;
const pageItems = new Map();
let nextPage = null;
/** The position of the page shown: how many Items the pages before it held, and its number. */
let shown = { before: 0, number: 0 };
/** The answer awaited: a newer search makes an older answer stale. */
let ticket = 0;
/** The Item in the details view, and the WMS layer of the product shown on the map. */
let current = null;
let productLayer = null;

/** Wires the panel; nothing is fetched before `openStac`. */
export function setupStac(given) {
  context = given;
  const layer = footprintLayer(false);
  footprints = layer.getSource();
  context.map.addLayer(layer);
  $('stac-form').addEventListener('submit', (event) => {
    event.preventDefault();
    onSearch();
  });
  $('stac-collection').addEventListener('change', () => loadFilter().catch(fail));
  $('stac-next').addEventListener('click', () => {
    const after = { before: shown.before + pageItems.size, number: shown.number + 1 };
    showPage(nextPage, after).catch(fail);
  });
  $('stac-back').addEventListener('click', closeDetails);
  $('stac-wms').addEventListener('click', showProduct);
  $('stac-wms-remove').addEventListener('click', removeProduct);
  return layer;
}

/** Reads the landing page and the collections, once (again after a failure). */
export function openStac() {
  opening ||= open().catch((error) => {
    opening = null;
    $('stac-note').textContent = `No STAC API: ${messageOf(error)}`;
    fail(error);
  });
  return opening;
}

async function open() {
  $('stac-note').textContent = 'reading the STAC API…';
  api = await stac.openApi(LANDING);
  const select = $('stac-collection');
  select.replaceChildren(element('option', 'all collections'));
  select.firstChild.value = '';
  for (const collection of await stac.listCollections(api)) {
    collections.set(collection.id, collection);
    const option = element('option', collection.title === collection.id ? collection.id : `${collection.title} (${collection.id})`);
    option.value = collection.id;
    select.append(option);
  }
  $('stac-sort').disabled = !api.sorts;
  $('stac-sort').title = api.sorts ? '' : 'this API does not sort';
  $('stac-note').textContent = `${api.title}: ${collections.size} collection${collections.size === 1 ? '' : 's'}`;
  await loadFilter();
  $('stac-run').disabled = false;
  context.stats.stacReady = true;
}

function fail(error) {
  say(messageOf(error));
}

// ---- the property filter ---------------------------------------------------------------

/** Offers the numeric queryables of the selected collection (of the API for all), if any. */
async function loadFilter() {
  const id = $('stac-collection').value;
  const link = id ? collections.get(id)?.queryables : api.queryables;
  const select = $('stac-filter-property');
  const previous = select.value;
  select.replaceChildren();
  $('stac-filter').hidden = true;
  if (!link) return;
  const { document } = await stac.fetchJson({ url: link.href });
  if (id !== $('stac-collection').value) return; // another collection was chosen meanwhile
  for (const property of stac.numericQueryables(document)) {
    const option = element('option', property.title === property.name ? property.name : `${property.title} (${property.name})`);
    option.value = property.name;
    select.append(option);
  }
  if (!select.options.length) return;
  const names = [...select.options].map((o) => o.value);
  select.value = names.includes(previous) ? previous : names.includes('eo:cloud_cover') ? 'eo:cloud_cover' : names[0];
  $('stac-filter').hidden = false;
}

function filterText() {
  const value = $('stac-filter-value').value.trim();
  if ($('stac-filter').hidden || value === '') return '';
  return stac.cql2Comparison($('stac-filter-property').value, $('stac-filter-op').value, value);
}

// ---- search and pages ------------------------------------------------------------------

function onSearch() {
  if (!api) return;
  const start = inputToIso($('stac-start'));
  const end = inputToIso($('stac-end'));
  if (start && end && start > end) {
    say('the date range ends before it starts');
    return;
  }
  let filter;
  try {
    filter = filterText();
  } catch (error) {
    fail(error);
    return;
  }
  const collection = $('stac-collection').value;
  const request = stac.searchRequest(api.search, {
    bbox: context.viewBbox(),
    datetime: stac.datetimeInterval(start, end),
    collections: collection ? [collection] : [],
    limit: Number($('stac-limit').value),
    filter,
    sortby: api.sorts ? [{ field: SORT_FIELD, direction: $('stac-sort').value }] : [],
  });
  showPage(request, { before: 0, number: 1 }).catch(fail);
}

/** Shows the page `request` answers, at `position` ({before, number}) in the search. */
async function showPage(request, position) {
  const mine = ++ticket;
  $('stac-next').disabled = true;
  let answer;
  try {
    answer = await stac.fetchJson(request);
  } finally {
    $('stac-next').disabled = false; // also to try again after a failure
  }
  if (mine !== ticket) return;
  const { document: page, url } = answer;
  closeDetails();
  shown = position;
  footprints.clear();
  pageItems.clear();
  const list = $('stac-results');
  list.replaceChildren();
  for (const item of page.features || []) {
    const base = stac.itemBase(item, url);
    pageItems.set(item.id, { item, base });
    if (item.geometry) {
      const feature = context.geojson.readFeature(item);
      feature.setId(item.id);
      footprints.addFeature(feature);
    }
    list.append(resultEntry(footprints, item.id, `${item.collection ?? ''} · ${stac.itemTime(item)}`, openDetails));
  }
  nextPage = stac.nextRequest(page, url, request);
  $('stac-next').hidden = !nextPage;
  const matched = stac.matchedCount(page);
  const range = pageItems.size ? `${shown.before + 1}–${shown.before + pageItems.size}` : 'none';
  $('stac-total').textContent = matched === null
    ? `page ${shown.number}: ${range} shown`
    : `${matched} matched, ${range} shown (page ${shown.number})`;
  const stats = context.stats;
  stats.stacSearches += 1;
  stats.stacMatched = matched;
  stats.stacShown = pageItems.size;
  stats.stacFootprints = footprints.getFeatures().length;
  stats.stacPage = shown.number;
  say('');
  $('stac-list').scrollIntoView({ block: 'nearest' });
}

// ---- an Item's details -----------------------------------------------------------------

function openDetails(entry) {
  selectResult(context.map, footprints, $('stac-results'), entry);
  current = pageItems.get(entry.dataset.id);
  const { item, base } = current;
  $('stac-item-id').textContent = item.id;
  const rows = [['collection', item.collection], ...Object.entries(item.properties || {})]
    .filter(([, value]) => value !== undefined && value !== null)
    .map(([name, value]) => {
      const tr = element('tr');
      tr.append(element('th', name), element('td', typeof value === 'object' ? JSON.stringify(value) : String(value)));
      return tr;
    });
  $('stac-properties').tBodies[0].replaceChildren(...rows);
  const assets = stac.itemAssets(item, base);
  $('stac-assets').replaceChildren(...assets.map(assetEntry));
  const thumbnail = assets.find((a) => a.roles.includes('thumbnail') && /^https?:/.test(a.href));
  $('stac-thumbnail').hidden = !thumbnail;
  if (thumbnail) $('stac-thumbnail').src = thumbnail.href;
  else $('stac-thumbnail').removeAttribute('src');
  const self = stac.findLink(item, 'self', base);
  $('stac-self').hidden = !self;
  if (self) $('stac-self').href = self.href;
  const wms = stac.itemWms(item, base);
  $('stac-wms').disabled = !wms;
  $('stac-wms').title = wms ? `${wms.params.LAYERS} from ${wms.url}` : 'this Item has no WMS link';
  $('stac-list').hidden = true;
  $('stac-details').hidden = false;
  $('stac-details').scrollIntoView({ block: 'start' });
}

function assetEntry(asset) {
  const li = element('li');
  const web = /^https?:/.test(asset.href);
  const target = element(web ? 'a' : 'code', asset.title);
  if (web) target.href = asset.href;
  else target.title = asset.href;
  li.dataset.key = asset.key;
  li.append(target, element('span', [asset.roles.join(', '), asset.type].filter(Boolean).join(' · '), 'when'));
  return li;
}

function closeDetails() {
  current = null;
  $('stac-details').hidden = true;
  $('stac-list').hidden = false;
}

// ---- the product on the map ------------------------------------------------------------

/** Shows the Item of the details view through its WMS link, above the collection layers. */
function showProduct() {
  const wms = current && stac.itemWms(current.item, current.base);
  if (!wms) return;
  removeProduct();
  const source = new ImageWMS({ url: wms.url, params: wms.params, ratio: 1 });
  const stats = context.stats;
  source.on('imageloadend', () => {
    stats.wmsLoaded += 1;
  });
  source.on('imageloaderror', () => {
    stats.wmsFailed += 1;
  });
  productLayer = new ImageLayer({ source, zIndex: 60 });
  context.map.addLayer(productLayer);
  stats.wmsShown = current.item.id;
  $('stac-shown-id').textContent = current.item.id;
  $('stac-shown').hidden = false;
  const footprint = footprints.getFeatureById(current.item.id);
  if (footprint) context.map.getView().fit(footprint.getGeometry().getExtent(), { padding: [60, 60, 60, 60], maxZoom: 10 });
}

function removeProduct() {
  if (productLayer) context.map.removeLayer(productLayer);
  productLayer = null;
  context.stats.wmsShown = null;
  $('stac-shown').hidden = true;
}
