// Products listed beside their footprints on the map, for the OpenSearch and the STAC search:
// hovering an entry highlights its footprint, clicking one selects it and zooms the map to it.

import VectorLayer from 'ol/layer/Vector.js';
import VectorSource from 'ol/source/Vector.js';
import { Fill, Stroke, Style } from 'ol/style.js';
import { element } from './dom.js';

const highlightStyle = new Style({
  stroke: new Stroke({ color: '#e8590c', width: 3 }),
  fill: new Fill({ color: 'rgba(232, 89, 12, 0.12)' }),
});
const footprintStyle = new Style({ stroke: new Stroke({ color: '#1971c2', width: 1.5 }) });

/** A layer of footprints over the tiles; a feature whose `selected` is set is highlighted. */
export function footprintLayer(visible) {
  return new VectorLayer({
    source: new VectorSource(),
    style: (feature) => (feature.get('selected') ? highlightStyle : footprintStyle),
    zIndex: 100,
    visible,
  });
}

/** The list entry of product `id`, whose footprint is in `source`; a click calls `onClick(entry)`. */
export function resultEntry(source, id, detail, onClick) {
  const li = element('li', id);
  li.dataset.id = id;
  li.append(element('span', detail, 'when'));
  li.addEventListener('click', () => onClick(li));
  li.addEventListener('mouseenter', () => source.getFeatureById(id)?.set('selected', true));
  li.addEventListener('mouseleave', () => source.getFeatureById(id)?.set('selected', li.classList.contains('selected')));
  return li;
}

/** Selects the entry `li` of `list` and its footprint (only them), and zooms `map` to the footprint. */
export function selectResult(map, source, list, li) {
  const id = li.dataset.id;
  for (const feature of source.getFeatures()) feature.set('selected', feature.getId() === id);
  for (const entry of list.children) entry.classList.toggle('selected', entry === li);
  const feature = source.getFeatureById(id);
  if (feature) map.getView().fit(feature.getGeometry().getExtent(), { padding: [60, 60, 60, 60], maxZoom: 10, duration: 300 });
}
