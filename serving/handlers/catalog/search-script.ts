/**
 * The catalog's search box: a tiny inline script (no front-end stack) that hides the views,
 * services and request features whose names do not contain the query, hides a shown view's
 * feature rows that do not match unless the view itself does, and dims lineage nodes.
 * Without JavaScript the page shows everything.
 */
export const SEARCH_SCRIPT = `<script>
(() => {
  const box = document.getElementById('search');
  const count = document.getElementById('search-count');
  const apply = () => {
    const q = box.value.trim().toLowerCase();
    let shown = 0;
    for (const el of document.querySelectorAll('.searchable')) {
      const own = el.dataset.search.includes(q);
      const rows = [...el.querySelectorAll('tr.feature, li.ref')];
      let anyRow = false;
      for (const row of rows) {
        const hit = own || row.dataset.search.includes(q);
        row.hidden = !hit;
        anyRow ||= hit;
      }
      el.hidden = !(own || anyRow);
      if (!el.hidden) shown++;
    }
    for (const node of document.querySelectorAll('#lineage .node')) {
      node.classList.toggle('dim', q !== '' && !node.dataset.search.includes(q));
    }
    count.textContent = q === '' ? '' : shown + ' matching';
  };
  box.addEventListener('input', apply);
  apply();
})();
</script>`
