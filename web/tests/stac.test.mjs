// Unit tests of the STAC API client (src/stac.js), run by Node's own test runner (also from
// crates/pvs-web/tests/client.rs):
//
//   node --test tests/stac.test.mjs
//
// The pure functions on literal documents, then the client against a small STAC API served
// here on a free port, whose links are relative and whose pages go on by GET and POST `next`
// links: the client must reach every document through links alone.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import * as stac from '../src/stac.js';

describe('links', () => {
  const document = {
    links: [
      { rel: 'self', href: '/stac' },
      { rel: 'search', href: 'search', method: 'POST' },
      { rel: 'search', href: './search?x=1' },
      { rel: 'data', href: 'https://other.example/collections' },
    ],
  };
  test('resolve against the document address, by rel and method', () => {
    const base = 'http://h:1/stac/';
    assert.equal(stac.findLink(document, 'search', base).href, 'http://h:1/stac/search');
    assert.equal(stac.findLink(document, 'search', base, 'GET').href, 'http://h:1/stac/search?x=1');
    assert.equal(stac.findLink(document, 'search', base, 'POST').method, 'POST');
    assert.equal(stac.findLink(document, 'self', base).href, 'http://h:1/stac');
    assert.equal(stac.findLink(document, 'data', base).href, 'https://other.example/collections');
    assert.equal(stac.findLink(document, 'next', base), null);
    assert.equal(stac.findLink({}, 'next', base), null);
  });
  test('conformance classes match in any version', () => {
    const landing = { conformsTo: ['https://api.stacspec.org/v1.0.0/item-search#sort', 'https://api.stacspec.org/v1.0.0/core'] };
    assert.ok(stac.conformsTo(landing, 'item-search#sort'));
    assert.ok(!stac.conformsTo(landing, 'item-search#filter'));
    assert.ok(!stac.conformsTo({}, 'core'));
  });
});

describe('search parameters', () => {
  test('datetime intervals with open ends', () => {
    assert.equal(stac.datetimeInterval('2010-07-01T00:00:00Z', '2010-08-01T00:00:00Z'), '2010-07-01T00:00:00Z/2010-08-01T00:00:00Z');
    assert.equal(stac.datetimeInterval('2010-07-01T00:00:00Z', ''), '2010-07-01T00:00:00Z/..');
    assert.equal(stac.datetimeInterval('', '2010-08-01T00:00:00Z'), '../2010-08-01T00:00:00Z');
    assert.equal(stac.datetimeInterval('', ''), '');
  });
  test('CQL2 text comparisons', () => {
    assert.equal(stac.cql2Comparison('eo:cloud_cover', '<=', '20'), 'eo:cloud_cover <= 20');
    assert.equal(stac.cql2Comparison('view:sun_elevation', '>=', ' -5.5 '), 'view:sun_elevation >= -5.5');
    assert.equal(stac.cql2Comparison('odd name"', '=', 3), '"odd name""" = 3');
    assert.throws(() => stac.cql2Comparison('eo:cloud_cover', 'LIKE', '1'), /not a CQL2 comparison/);
    assert.throws(() => stac.cql2Comparison('eo:cloud_cover', '<=', ''), /not a number/);
    assert.throws(() => stac.cql2Comparison('eo:cloud_cover', '<=', '1; DROP'), /not a number/);
  });
  test('numeric queryables only', () => {
    const queryables = {
      properties: {
        'eo:cloud_cover': { title: 'Cloud cover', type: 'number', minimum: 0, maximum: 100 },
        orbit: { type: ['integer', 'null'] },
        platform: { type: 'string' },
        geometry: { $ref: 'https://geojson.org/schema/Geometry.json' },
      },
    };
    assert.deepEqual(stac.numericQueryables(queryables), [
      { name: 'eo:cloud_cover', title: 'Cloud cover', minimum: 0, maximum: 100 },
      { name: 'orbit', title: 'orbit', minimum: undefined, maximum: undefined },
    ]);
    assert.deepEqual(stac.numericQueryables({}), []);
  });
  const query = {
    bbox: [-5, 48, 3.5, 52],
    datetime: '2010-07-01T00:00:00Z/..',
    collections: ['SAR'],
    ids: [],
    limit: 5,
    filter: 'eo:cloud_cover <= 20',
    sortby: [{ field: 'properties.datetime', direction: 'desc' }],
  };
  test('the GET form keeps the link query and encodes every value', () => {
    const request = stac.searchRequest({ href: 'http://h/stac/search?token=a', rel: 'search' }, query);
    const url = new URL(request.url);
    assert.equal(request.method, undefined);
    assert.deepEqual(Object.fromEntries(url.searchParams), {
      token: 'a',
      bbox: '-5,48,3.5,52',
      datetime: '2010-07-01T00:00:00Z/..',
      collections: 'SAR',
      limit: '5',
      filter: 'eo:cloud_cover <= 20',
      'filter-lang': 'cql2-text',
      sortby: '-properties.datetime',
    });
    // `+` would read as a space: ascending sorts are encoded.
    const ascending = stac.searchRequest({ href: 'http://h/s' }, { sortby: [{ field: 'datetime', direction: 'asc' }] });
    assert.equal(ascending.url, 'http://h/s?sortby=%2Bdatetime');
    assert.equal(stac.searchRequest({ href: 'http://h/s' }, { bbox: null, collections: [], filter: '' }).url, 'http://h/s');
  });
  test('the POST form', () => {
    const request = stac.searchRequest({ href: 'http://h/stac/search', method: 'POST' }, query);
    assert.equal(request.method, 'POST');
    assert.deepEqual(request.body, {
      bbox: [-5, 48, 3.5, 52],
      datetime: '2010-07-01T00:00:00Z/..',
      collections: ['SAR'],
      limit: 5,
      filter: 'eo:cloud_cover <= 20',
      'filter-lang': 'cql2-text',
      sortby: [{ field: 'properties.datetime', direction: 'desc' }],
    });
  });
  test('next pages by GET, by POST, merged or not', () => {
    const previous = { url: 'http://h/s', method: 'POST', body: { limit: 5, collections: ['SAR'] } };
    assert.equal(stac.nextRequest({ links: [] }, 'http://h/s', previous), null);
    assert.deepEqual(stac.nextRequest({ links: [{ rel: 'next', href: 's?token=2' }] }, 'http://h/s', previous), { url: 'http://h/s?token=2', headers: undefined });
    const merged = stac.nextRequest({ links: [{ rel: 'next', href: '/s', method: 'POST', merge: true, body: { token: '2' } }] }, 'http://h/s', previous);
    assert.deepEqual(merged.body, { limit: 5, collections: ['SAR'], token: '2' });
    const replaced = stac.nextRequest({ links: [{ rel: 'next', href: '/s', method: 'POST', body: { token: '2' } }] }, 'http://h/s', previous);
    assert.deepEqual(replaced.body, { token: '2' });
  });
  test('matched counts', () => {
    assert.equal(stac.matchedCount({ numberMatched: 7 }), 7);
    assert.equal(stac.matchedCount({ numberMatched: 0, context: { matched: 3 } }), 0);
    assert.equal(stac.matchedCount({ context: { matched: 3 } }), 3);
    assert.equal(stac.matchedCount({ features: [] }), null);
  });
});

describe('Items', () => {
  const item = {
    type: 'Feature',
    id: 'p1',
    properties: { start_datetime: '2010-07-01T10:00:00Z', end_datetime: '2010-07-01T10:01:00Z', datetime: null },
    links: [
      { rel: 'self', href: '/stac/collections/SAR/items/p1' },
      {
        rel: 'wms',
        href: '/ows',
        type: 'image/png',
        'wms:layers': ['SAR'],
        'wms:transparent': true,
        'wms:dimensions': { TIME: '2010-07-01T10:00:00Z/2010-07-01T10:01:00Z' },
      },
    ],
    assets: {
      data: { href: '../../../../storage/p1.tif', type: 'image/tiff; application=geotiff; profile=cloud-optimized', roles: ['data'] },
      metadata: { href: 's3://bucket/p1.json', title: 'Metadata', roles: ['metadata'] },
    },
  };
  const base = stac.itemBase(item, 'http://h/stac/search?limit=5');
  test('resolve against their self link', () => {
    assert.equal(base, 'http://h/stac/collections/SAR/items/p1');
    assert.equal(stac.itemBase({ links: [] }, 'http://h/stac/search'), 'http://h/stac/search');
  });
  test('time', () => {
    assert.equal(stac.itemTime(item), '2010-07-01 10:00:00–10:01:00Z');
    assert.equal(stac.itemTime({ properties: { datetime: '2010-07-01T10:00:00Z' } }), '2010-07-01 10:00:00Z');
    const days = { start_datetime: '2010-07-01T23:00:00Z', end_datetime: '2010-07-02T01:00:00Z' };
    assert.equal(stac.itemTime({ properties: days }), '2010-07-01 23:00:00Z – 2010-07-02 01:00:00Z');
    assert.equal(stac.itemTime({ properties: { start_datetime: '2010-07-01T23:00:00Z' } }), '2010-07-01 23:00:00Z');
    assert.equal(stac.itemTime({}), '');
  });
  test('assets', () => {
    assert.deepEqual(stac.itemAssets(item, base), [
      { key: 'data', href: 'http://h/storage/p1.tif', title: 'data', type: 'image/tiff; application=geotiff; profile=cloud-optimized', roles: ['data'] },
      { key: 'metadata', href: 's3://bucket/p1.json', title: 'Metadata', type: '', roles: ['metadata'] },
    ]);
  });
  test('the WMS web-map-link', () => {
    assert.deepEqual(stac.itemWms(item, base), {
      url: 'http://h/ows',
      params: { LAYERS: 'SAR', STYLES: '', FORMAT: 'image/png', TRANSPARENT: 'TRUE', TIME: '2010-07-01T10:00:00Z/2010-07-01T10:01:00Z' },
    });
    assert.equal(stac.itemWms({ links: [{ rel: 'wms', href: '/ows', 'wms:layers': [] }] }, base), null);
    assert.equal(stac.itemWms({ links: [] }, base), null);
  });
});

describe('against a STAC API', () => {
  // Seven Items, days 1 to 7 of July 2010; two collections listed on two pages; searches by
  // GET answer pages of `limit` by GET `next` links, by POST with merged POST `next` links.
  const items = Array.from({ length: 7 }, (_, i) => ({
    type: 'Feature',
    id: `p${i + 1}`,
    collection: 'SAR',
    geometry: { type: 'Point', coordinates: [i, 50] },
    properties: { datetime: `2010-07-0${i + 1}T00:00:00Z` },
    links: [],
    assets: {},
  }));
  const requests = [];
  let server;
  let root;

  function page(query, method) {
    const limit = Number(query.limit || 10);
    const offset = Number(query.offset || 0);
    const chosen = items.filter((item) => !query.collections || query.collections.includes(item.collection));
    const links = [];
    if (offset + limit < chosen.length) {
      links.push(method === 'POST'
        ? { rel: 'next', href: 'search', method: 'POST', merge: true, body: { offset: offset + limit } }
        : { rel: 'next', href: `search?limit=${limit}&offset=${offset + limit}` });
    }
    const features = chosen.slice(offset, offset + limit);
    return { type: 'FeatureCollection', features, links, numberMatched: chosen.length, numberReturned: features.length };
  }

  function answer(path, query, method) {
    switch (path) {
      case '/api/v1/':
        return {
          type: 'Catalog',
          id: 'test',
          title: 'test API',
          conformsTo: ['https://api.stacspec.org/v1.0.0/core', 'https://api.stacspec.org/v1.0.0/item-search#sort'],
          links: [
            { rel: 'data', href: 'collections' },
            { rel: 'search', href: 'search', method: 'POST' },
            { rel: 'search', href: 'search', method: 'GET' },
            { rel: stac.QUERYABLES, href: 'queryables' },
          ],
        };
      case '/api/v1/collections':
        return query.page === '2'
          ? { collections: [{ id: 'OPT', title: 'Optical', links: [] }], links: [] }
          : { collections: [{ id: 'SAR', links: [{ rel: stac.QUERYABLES, href: 'collections/SAR/queryables' }] }], links: [{ rel: 'next', href: 'collections?page=2' }] };
      case '/api/v1/search':
        return page(query, method);
      default:
        return null;
    }
  }

  before(async () => {
    server = createServer((request, response) => {
      const url = new URL(request.url, 'http://x');
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', () => {
        requests.push({ method: request.method, url: request.url, body });
        const query = request.method === 'POST' ? JSON.parse(body) : Object.fromEntries(url.searchParams);
        if (typeof query.collections === 'string') query.collections = query.collections.split(',');
        const document = answer(url.pathname, query, request.method);
        response.writeHead(document ? 200 : 404, { 'Content-Type': 'application/json' });
        response.end(JSON.stringify(document || { code: 'NotFound', description: `no ${url.pathname}` }));
      });
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    root = `http://127.0.0.1:${server.address().port}/api/v1/`;
  });
  after(() => server.close());

  test('the landing page gives the links', async () => {
    const api = await stac.openApi(root);
    assert.equal(api.title, 'test API');
    assert.equal(api.search.href, `${root}search`);
    assert.equal(api.search.method, 'GET');
    assert.equal(api.data.href, `${root}collections`);
    assert.equal(api.queryables.href, `${root}queryables`);
    assert.ok(api.sorts);
  });

  test('collections from every page, with their queryables links', async () => {
    const api = await stac.openApi(root);
    assert.deepEqual(await stac.listCollections(api), [
      { id: 'SAR', title: 'SAR', queryables: { rel: stac.QUERYABLES, href: `${root}collections/SAR/queryables` } },
      { id: 'OPT', title: 'Optical', queryables: null },
    ]);
  });

  async function allPages(request) {
    const ids = [];
    const counts = [];
    while (request) {
      const { document, url } = await stac.fetchJson(request);
      ids.push(...document.features.map((f) => f.id));
      counts.push(stac.matchedCount(document));
      request = stac.nextRequest(document, url, request);
    }
    return { ids, counts };
  }

  test('pages by GET next links', async () => {
    const api = await stac.openApi(root);
    requests.length = 0;
    const { ids, counts } = await allPages(stac.searchRequest(api.search, { collections: ['SAR'], limit: 3 }));
    assert.deepEqual(ids, ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7']);
    assert.deepEqual(counts, [7, 7, 7]);
    assert.deepEqual(requests.map((r) => r.url), [
      '/api/v1/search?collections=SAR&limit=3',
      '/api/v1/search?limit=3&offset=3',
      '/api/v1/search?limit=3&offset=6',
    ]);
  });

  test('pages by POST next links that merge', async () => {
    const api = await stac.openApi(root);
    requests.length = 0;
    const { ids } = await allPages(stac.searchRequest({ ...api.search, method: 'POST' }, { collections: ['SAR'], limit: 4 }));
    assert.deepEqual(ids, ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7']);
    assert.deepEqual(requests.map((r) => [r.method, JSON.parse(r.body)]), [
      ['POST', { collections: ['SAR'], limit: 4 }],
      ['POST', { collections: ['SAR'], limit: 4, offset: 4 }],
    ]);
  });

  test('errors say what was asked and what the API answered', async () => {
    await assert.rejects(stac.fetchJson({ url: `${root}nowhere` }), /STAC GET http:\/\/127\.0\.0\.1:\d+\/api\/v1\/nowhere: HTTP 404: no \/api\/v1\/nowhere/);
    await assert.rejects(stac.openApi(`${root}collections`), /has no search link/);
  });
});
