// The pvs web client: the collection layers of the tile cache (WMTS, WebMercatorQuad) over a
// land basemap bundled with the client, a time control driving the WMTS Time dimension,
// footprint outlines, a product search on OpenSearch or on the STAC API (stac-panel.js), and
// the ingest status. Everything it needs is served by pvs itself: no CDN, no external tiles.

import Map from 'ol/Map.js';
import View from 'ol/View.js';
import TileLayer from 'ol/layer/Tile.js';
import VectorLayer from 'ol/layer/Vector.js';
import VectorSource from 'ol/source/Vector.js';
import WMTS, { optionsFromCapabilities } from 'ol/source/WMTS.js';
import WMTSCapabilities from 'ol/format/WMTSCapabilities.js';
import GeoJSON from 'ol/format/GeoJSON.js';
import { Fill, Stroke, Style } from 'ol/style.js';
import { transformExtent } from 'ol/proj.js';
import { feature as topoFeature } from 'topojson-client';
import land from 'world-atlas/land-50m.json';
import { $, element, inputToIso, messageOf, say } from './dom.js';
import { footprintLayer, resultEntry, selectResult } from './results.js';
import { openStac, setupStac } from './stac-panel.js';
import 'ol/ol.css';
import './style.css';

const MATRIX_SET = 'WebMercatorQuad';
const OUTLINES = '__outlines';
/** A collection's images with outlines: the same as the image layer and its outlines box. */
const OUTLINED = '__outlined';
const STATUS_EVERY_MS = 5000;

/**
 * What the tests and operators can read: tile loads, the current TIME, the last OpenSearch
 * search, the last STAC page (matched, shown, footprints drawn, page number) and the product
 * shown by WMS.
 */
const stats = {
  tilesLoaded: 0,
  tilesFailed: 0,
  time: 'default',
  searches: 0,
  results: 0,
  stacSearches: 0,
  stacMatched: null,
  stacShown: 0,
  stacFootprints: 0,
  stacPage: 0,
  wmsShown: null,
  wmsLoaded: 0,
  wmsFailed: 0,
};

// ---- map -------------------------------------------------------------------------------

const geojson = new GeoJSON({ featureProjection: 'EPSG:3857' });

const basemap = new VectorLayer({
  source: new VectorSource({
    features: geojson.readFeatures(topoFeature(land, land.objects.land)),
  }),
  style: new Style({ fill: new Fill({ color: '#f2efe6' }), stroke: new Stroke({ color: '#b8b2a2', width: 0.6 }) }),
  zIndex: 0,
});

const resultLayer = footprintLayer(true);
const results = resultLayer.getSource();

const map = new Map({
  target: 'map',
  layers: [basemap, resultLayer],
  view: new View({ center: [0, 0], zoom: 2, maxZoom: 18 }),
});

/** The STAC search tab's footprints; its panel reads nothing before the tab is opened. */
const stacLayer = setupStac({ map, geojson, viewBbox, stats });

// ---- layers from the WMTS capabilities -------------------------------------------------

/** Every collection layer and its outlines layer, by identifier. */
const tileLayers = {};
/** The product intervals of the Time dimension (oldest first) and its default. */
let intervals = [];
let defaultTime = 'default';

function wmtsLayer(capabilities, identifier, visible) {
  const options = optionsFromCapabilities(capabilities, { layer: identifier, matrixSet: MATRIX_SET });
  if (!options) return null;
  const source = new WMTS({ ...options, wrapX: true, transition: 0 });
  source.on('tileloadend', () => {
    stats.tilesLoaded += 1;
  });
  source.on('tileloaderror', () => {
    stats.tilesFailed += 1;
  });
  return new TileLayer({ source, visible, zIndex: identifier.endsWith(OUTLINES) ? 50 : 10 });
}

function layerControl(name, title, outlines, visible) {
  const item = element('li');
  const label = element('label');
  const box = element('input');
  box.type = 'checkbox';
  box.checked = visible;
  box.dataset.layer = name;
  box.addEventListener('change', () => tileLayers[name].setVisible(box.checked));
  label.append(box, ' ', title);
  item.append(label);
  if (outlines) {
    const outlineLabel = element('label', undefined, 'outlines');
    const outlineBox = element('input');
    outlineBox.type = 'checkbox';
    outlineBox.dataset.layer = outlines;
    outlineBox.addEventListener('change', () => tileLayers[outlines].setVisible(outlineBox.checked));
    outlineLabel.append(outlineBox, ' footprints');
    item.append(outlineLabel);
  }
  return item;
}

function timeValues(capabilities) {
  for (const layer of capabilities.Contents.Layer) {
    for (const dimension of layer.Dimension || []) {
      if (dimension.Identifier === 'Time') {
        return { values: dimension.Value || [], fallback: dimension.Default || 'default' };
      }
    }
  }
  return { values: [], fallback: 'default' };
}

async function loadLayers() {
  const response = await fetch('wmts/1.0.0/WMTSCapabilities.xml');
  if (!response.ok) throw new Error(`WMTS capabilities: HTTP ${response.status}`);
  const capabilities = new WMTSCapabilities().read(await response.text());
  const names = capabilities.Contents.Layer.map((l) => l.Identifier);
  const list = $('layer-list');
  list.replaceChildren();
  for (const layer of capabilities.Contents.Layer) {
    const name = layer.Identifier;
    if (name.endsWith(OUTLINES) || name.endsWith(OUTLINED)) continue;
    const outlines = names.includes(name + OUTLINES) ? name + OUTLINES : null;
    // A collection's browse or mask type (`<collection>__<name>`): listed, shown when ticked.
    const shown = !name.includes('__');
    for (const [id, visible] of [[name, shown], [outlines, false]]) {
      if (!id) continue;
      const tiles = wmtsLayer(capabilities, id, visible);
      if (tiles) {
        tileLayers[id] = tiles;
        map.addLayer(tiles);
      }
    }
    list.append(layerControl(name, layer.Title || name, outlines, shown));
  }
  if (!list.children.length) list.append(element('li', 'no collection yet', 'muted'));
  const time = timeValues(capabilities);
  defaultTime = time.fallback;
  intervals = [...time.values].sort();
  const slider = $('time-slider');
  slider.max = String(intervals.length);
  slider.value = '0';
  layersExtent = collectionsExtent(capabilities);
  zoomToLayers();
}

/** The union of the layers' extents (EPSG:4326), once the capabilities are read. */
let layersExtent = null;

function zoomToLayers() {
  if (layersExtent) {
    map.getView().fit(transformExtent(layersExtent, 'EPSG:4326', 'EPSG:3857'), { padding: [40, 40, 40, 40], maxZoom: 9 });
  }
}

/** The union of the layers' WGS84 bounding boxes, if any. */
function collectionsExtent(capabilities) {
  let extent = null;
  for (const layer of capabilities.Contents.Layer) {
    const box = layer.WGS84BoundingBox;
    if (!box || box.some((v) => !Number.isFinite(v))) continue;
    extent = extent
      ? [Math.min(extent[0], box[0]), Math.min(extent[1], box[1]), Math.max(extent[2], box[2]), Math.max(extent[3], box[3])]
      : [...box];
  }
  return extent;
}

// ---- time ------------------------------------------------------------------------------

function setTime(value, label) {
  stats.time = value;
  for (const layer of Object.values(tileLayers)) layer.getSource().updateDimensions({ Time: value });
  $('time-value').textContent = label || value;
}

function isoToInput(iso) {
  return iso.replace(/Z$/, '').slice(0, 19);
}

function onSlider() {
  const index = Number($('time-slider').value);
  if (index === 0) {
    setTime('default', `all times (${defaultTime})`);
    return;
  }
  const interval = intervals[index - 1];
  const [start, end] = interval.split(/--|\//);
  $('time-start').value = isoToInput(start);
  $('time-end').value = isoToInput(end || start);
  setTime(interval, `${index} of ${intervals.length}: ${interval}`);
}

function onApplyRange() {
  const start = inputToIso($('time-start'));
  const end = inputToIso($('time-end'));
  if (!start || !end) {
    say('give both ends of the time range');
    return;
  }
  if (start > end) {
    say('the time range ends before it starts');
    return;
  }
  say('');
  // `start--end`, not `start/end`: the value goes into the RESTful tile path.
  setTime(`${start}--${end}`);
}

function onAllTimes() {
  $('time-slider').value = '0';
  $('time-start').value = '';
  $('time-end').value = '';
  onSlider();
}

// ---- search ----------------------------------------------------------------------------

function viewBbox() {
  const [w, s, e, n] = transformExtent(map.getView().calculateExtent(map.getSize()), 'EPSG:3857', 'EPSG:4326');
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  const round = (v) => Math.round(v * 1e6) / 1e6;
  return [clamp(w, -180, 180), clamp(s, -90, 90), clamp(e, -180, 180), clamp(n, -90, 90)].map(round);
}

async function onSearch() {
  const collections = Object.keys(tileLayers).filter((n) => !n.endsWith(OUTLINES) && tileLayers[n].getVisible());
  const params = new URLSearchParams({ bbox: viewBbox().join(','), count: '50' });
  const start = inputToIso($('time-start'));
  const end = inputToIso($('time-end'));
  if (start) params.set('start', start);
  if (end) params.set('end', end);
  const list = $('search-results');
  list.replaceChildren();
  results.clear();
  let total = 0;
  try {
    for (const collection of collections) {
      const response = await fetch(`opensearch/collections/${encodeURIComponent(collection)}/json?${params}`);
      if (!response.ok) throw new Error(`OpenSearch ${collection}: HTTP ${response.status}`);
      const answer = await response.json();
      total += answer.totalResults ?? answer.features.length;
      for (const item of answer.features) {
        const feature = geojson.readFeature(item);
        feature.setId(item.id);
        results.addFeature(feature);
        list.append(resultEntry(results, item.id, `${collection} · ${item.properties.date}`, (li) => selectResult(map, results, list, li)));
      }
    }
    $('search-total').textContent = `${total} product${total === 1 ? '' : 's'} found, ${list.children.length} shown`;
    stats.searches += 1;
    stats.results = list.children.length;
    say('');
  } catch (error) {
    say(messageOf(error));
  }
}

/** Shows the search tab `name` (`opensearch` or `stac`) and its footprints on the map. */
function showTab(name) {
  for (const tab of document.querySelectorAll('#search [role=tab]')) {
    const selected = tab.getAttribute('aria-controls') === name;
    tab.setAttribute('aria-selected', String(selected));
    $(tab.getAttribute('aria-controls')).hidden = !selected;
  }
  resultLayer.setVisible(name === 'opensearch');
  stacLayer.setVisible(name === 'stac');
  if (name === 'stac') openStac();
}

// ---- ingest status ---------------------------------------------------------------------

function row(cells) {
  const tr = element('tr');
  cells.forEach((cell, i) => tr.append(element('td', String(cell), i ? 'n' : undefined)));
  return tr;
}

async function refreshStatus() {
  try {
    const response = await fetch('api/status');
    if (response.status === 404) {
      $('status').hidden = true; // served by a cache without the pipeline: nothing to show
      return;
    }
    if (!response.ok) throw new Error(`status: HTTP ${response.status}`);
    const status = await response.json();
    $('status-queues').tBodies[0].replaceChildren(...status.queues.map((q) => row([q.name, q.waiting, q.processing])));
    $('status-stages').tBodies[0].replaceChildren(
      ...status.stages.map((s) => row([s.name, s.in_flight, s.succeeded, s.failed])),
    );
    $('status-failures').replaceChildren(
      ...status.stages.flatMap((s) => s.failures.map((f) => element('li', `${s.name} ${f.id}: ${f.reason}`))),
    );
  } catch (error) {
    say(messageOf(error));
  }
  setTimeout(refreshStatus, STATUS_EVERY_MS);
}

// ---- start -----------------------------------------------------------------------------

$('time-slider').addEventListener('input', onSlider);
$('time-apply').addEventListener('click', onApplyRange);
$('time-all').addEventListener('click', onAllTimes);
$('search-run').addEventListener('click', onSearch);
$('zoom-all').addEventListener('click', zoomToLayers);
$('tab-opensearch').addEventListener('click', () => showTab('opensearch'));
$('tab-stac').addEventListener('click', () => showTab('stac'));

window.pvs = { map, stats, setTime, search: onSearch };

loadLayers()
  .then(() => {
    onSlider();
    stats.ready = true;
  })
  .catch((error) => {
    say(messageOf(error));
    stats.error = messageOf(error);
  });
refreshStatus();
