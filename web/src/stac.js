// A STAC API 1.0 client that knows one address, the landing page's: every other URL comes from
// a link (`search`, `data`, the queryables, `next`, an Item's `self` and `wms` web-map-link),
// resolved against the address of the document holding it. No DOM and no OpenLayers here, so
// Node runs its tests (web/tests/stac.test.mjs).

/** The link relation of queryables (OGC API Features part 3, the STAC API filter extension). */
export const QUERYABLES = 'http://www.opengis.net/def/rel/ogc/1.0/queryables';

/** The comparisons of a property with a number, in CQL2 text. */
export const OPERATORS = ['<', '<=', '=', '>=', '>', '<>'];

/** Collection pages followed at most by `listCollections`. */
const COLLECTION_PAGES = 20;

/**
 * The first link of `rel` in `document.links` with its href made absolute against `base`, or
 * null. With `method`, only a link of that method counts (a link without one is a GET).
 */
export function findLink(document, rel, base, method) {
  for (const link of document?.links || []) {
    if (link.rel !== rel || typeof link.href !== 'string') continue;
    if (method && (link.method || 'GET').toUpperCase() !== method) continue;
    return { ...link, href: new URL(link.href, base).href };
  }
  return null;
}

/** Whether the landing page declares a conformance class ending with `suffix`, in any version. */
export function conformsTo(landing, suffix) {
  return (landing.conformsTo || []).some((c) => typeof c === 'string' && c.endsWith(suffix));
}

/**
 * Fetches `{url, method, body, headers}` and reads its JSON: `{document, url}`, `url` being
 * where the document came from (after redirects), against which its links resolve.
 */
export async function fetchJson(request) {
  const { url, method = 'GET', body, headers = {} } = request;
  const init = { method, headers: { Accept: 'application/json', ...headers } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  const response = await fetch(url, init);
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`STAC ${method} ${url}: HTTP ${response.status}${apiMessage(text)}`);
  }
  try {
    return { document: JSON.parse(text), url: response.url || url };
  } catch (error) {
    throw new Error(`STAC ${method} ${url}: not JSON (${error.message})`);
  }
}

/** The API's own words on an error (`description`, `detail`, `message`), else the text's start. */
function apiMessage(text) {
  let said = text.slice(0, 200);
  try {
    const error = JSON.parse(text);
    said = error.description || error.detail || error.message || said;
  } catch {
    // not JSON: the text itself
  }
  return said ? `: ${said}` : '';
}

/**
 * The API behind a landing page: its `search` link (GET when offered, else POST), its
 * collections (`data`) link, its queryables link (null if none), and whether it sorts
 * (the sort extension's conformance class).
 */
export async function openApi(landingUrl) {
  const { document: landing, url } = await fetchJson({ url: landingUrl });
  const search = findLink(landing, 'search', url, 'GET') || findLink(landing, 'search', url, 'POST');
  if (!search) throw new Error(`STAC ${url}: the landing page has no search link`);
  const data = findLink(landing, 'data', url);
  if (!data) throw new Error(`STAC ${url}: the landing page has no data (collections) link`);
  return {
    title: landing.title || landing.id || 'STAC API',
    search,
    data,
    queryables: findLink(landing, QUERYABLES, url),
    sorts: conformsTo(landing, 'item-search#sort'),
  };
}

/** Every collection of the API (following the `next` links of the collections document): id, title and queryables link. */
export async function listCollections(api) {
  const collections = [];
  let request = { url: api.data.href };
  for (let page = 0; request && page < COLLECTION_PAGES; page += 1) {
    const { document, url } = await fetchJson(request);
    for (const collection of document.collections || []) {
      collections.push({
        id: collection.id,
        title: collection.title || collection.id,
        queryables: findLink(collection, QUERYABLES, url),
      });
    }
    request = nextRequest(document, url, request);
  }
  return collections;
}

/** The numeric properties (JSON Schema `number` or `integer`) of a queryables document: name, title, minimum, maximum. */
export function numericQueryables(queryables) {
  const numeric = (schema) => [schema?.type].flat().some((t) => t === 'number' || t === 'integer');
  return Object.entries(queryables.properties || {})
    .filter(([, schema]) => numeric(schema))
    .map(([name, schema]) => ({ name, title: schema.title || name, minimum: schema.minimum, maximum: schema.maximum }));
}

/** A search's `datetime`: `start/end`, `..` for an open end; '' when both ends are open. */
export function datetimeInterval(start, end) {
  return start || end ? `${start || '..'}/${end || '..'}` : '';
}

/** A CQL2 text comparison of a property with a number, such as `eo:cloud_cover <= 20`. */
export function cql2Comparison(property, operator, value) {
  if (!OPERATORS.includes(operator)) throw new Error(`${operator} is not a CQL2 comparison`);
  const number = typeof value === 'number' ? value : Number(String(value).trim() || NaN);
  if (!Number.isFinite(number)) throw new Error(`the filter value ${value} is not a number`);
  // An identifier as it is when CQL2 allows it (`eo:cloud_cover`), else double-quoted.
  const name = /^[A-Za-z_][A-Za-z0-9_.:]*$/.test(property) ? property : `"${property.replaceAll('"', '""')}"`;
  return `${name} ${operator} ${number}`;
}

/**
 * The request of a search through the API's `search` link, in its GET or POST form. `query`:
 * `bbox` [w, s, e, n], `datetime` (an interval), `collections`, `ids`, `limit`, `filter` (CQL2
 * text) and `sortby` ([{field, direction: 'asc' | 'desc'}]); empty values are left out.
 */
export function searchRequest(search, query) {
  const { bbox, datetime, collections, ids, limit, filter, sortby } = query;
  if ((search.method || 'GET').toUpperCase() === 'POST') {
    const body = {};
    if (bbox) body.bbox = bbox;
    if (datetime) body.datetime = datetime;
    if (collections?.length) body.collections = collections;
    if (ids?.length) body.ids = ids;
    if (limit) body.limit = limit;
    if (filter) Object.assign(body, { filter, 'filter-lang': 'cql2-text' });
    if (sortby?.length) body.sortby = sortby;
    return { url: search.href, method: 'POST', body, headers: search.headers };
  }
  const url = new URL(search.href);
  const set = (key, value) => url.searchParams.set(key, value);
  if (bbox) set('bbox', bbox.join(','));
  if (datetime) set('datetime', datetime);
  if (collections?.length) set('collections', collections.join(','));
  if (ids?.length) set('ids', ids.join(','));
  if (limit) set('limit', String(limit));
  if (filter) {
    set('filter', filter);
    set('filter-lang', 'cql2-text');
  }
  if (sortby?.length) set('sortby', sortby.map((s) => `${s.direction === 'desc' ? '-' : '+'}${s.field}`).join(','));
  return { url: url.href, headers: search.headers };
}

/**
 * The request of the page after `page` (fetched from `base` by `previous`) from its `next`
 * link, or null on the last page. A POST link's body replaces the previous body, or is merged
 * into it when the link says `merge`.
 */
export function nextRequest(page, base, previous) {
  const next = findLink(page, 'next', base);
  if (!next) return null;
  if ((next.method || 'GET').toUpperCase() !== 'POST') return { url: next.href, headers: next.headers };
  const body = next.merge ? { ...previous.body, ...next.body } : next.body || {};
  return { url: next.href, method: 'POST', body, headers: next.headers };
}

/** How many Items match a search, when the API says: `numberMatched`, or the context extension's `matched`. */
export function matchedCount(page) {
  return page.numberMatched ?? page.context?.matched ?? null;
}

/** The address an Item's relative hrefs resolve against: its `self` link, else the page it came in. */
export function itemBase(item, pageUrl) {
  return findLink(item, 'self', pageUrl)?.href || pageUrl;
}

/**
 * An Item's time, short: its `datetime`, else its start and end (`2010-07-22 10:16:01–10:17:02Z`
 * within one day).
 */
export function itemTime(item) {
  const { datetime, start_datetime: start, end_datetime: end } = item.properties || {};
  const spaced = (time) => time.replace('T', ' ');
  if (datetime) return spaced(datetime);
  if (start && end && start.slice(0, 10) === end.slice(0, 10) && end[10] === 'T') {
    return `${spaced(start).replace(/Z$/, '')}–${end.slice(11)}`;
  }
  return [start, end].filter(Boolean).map(spaced).join(' – ');
}

/** An Item's assets: key, absolute href, title, media type and roles. */
export function itemAssets(item, base) {
  return Object.entries(item.assets || {}).map(([key, asset]) => ({
    key,
    href: new URL(asset.href, base).href,
    title: asset.title || key,
    type: asset.type || '',
    roles: asset.roles || [],
  }));
}

/**
 * What a WMS 1.3.0 client needs from an Item's `wms` web-map-link: the service URL and the
 * GetMap parameters it gives (LAYERS, STYLES, TRANSPARENT, FORMAT from the link's type, and the
 * `wms:dimensions` such as TIME); null when the Item has no such link with layers.
 */
export function itemWms(item, base) {
  const link = findLink(item, 'wms', base);
  const layers = link?.['wms:layers'];
  if (!Array.isArray(layers) || layers.length === 0) return null;
  const params = { LAYERS: layers.join(','), STYLES: (link['wms:styles'] || []).join(','), FORMAT: link.type || 'image/png' };
  if (link['wms:transparent'] !== undefined) params.TRANSPARENT = link['wms:transparent'] ? 'TRUE' : 'FALSE';
  for (const [name, value] of Object.entries(link['wms:dimensions'] || {})) params[name] = String(value);
  return { url: link.href, params };
}
