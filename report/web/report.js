// The page script of `joulebench report` (inlined into the HTML at build time; see
// docs/report.md). It reads the data embedded in <script id="report-data">, builds one Vega-Lite
// spec per <div class="chart" data-chart=KIND> and draws it with vega-embed. Nothing is fetched.
//
// Markers for tests and benchmarks, on <body> once every chart has settled:
//   data-charts-expected  number of chart elements
//   data-charts-rendered  charts drawn (vega-embed resolved)
//   data-charts-empty     charts with nothing to draw (a note is shown instead)
//   data-errors           console errors, uncaught errors, rejections, blocked requests, failed charts
//   data-error-text       their messages (first 2000 characters)
//   data-blocked-requests requests the Content-Security-Policy refused (there should be none)
//   data-render-ms        milliseconds from navigation start until the last chart settled
//   data-done             "1" once all of the above are final
(function () {
  'use strict';
  const body = document.body;
  let errors = 0;
  let blocked = 0;
  const errorTexts = [];
  function noteError(text) {
    errors += 1;
    errorTexts.push(String(text));
    body.dataset.errors = String(errors);
    body.dataset.errorText = errorTexts.join(' | ').slice(0, 2000);
  }
  body.dataset.errors = '0';
  body.dataset.blockedRequests = '0';
  const consoleError = console.error.bind(console);
  console.error = function (...args) {
    noteError('console.error: ' + args.map(String).join(' '));
    consoleError(...args);
  };
  window.addEventListener('error', (e) => noteError('error: ' + e.message));
  window.addEventListener('unhandledrejection', (e) => noteError('unhandled rejection: ' + e.reason));
  document.addEventListener('securitypolicyviolation', (e) => {
    blocked += 1;
    body.dataset.blockedRequests = String(blocked);
    noteError('blocked by the content security policy: ' + e.blockedURI + ' (' + e.violatedDirective + ')');
  });

  const data = JSON.parse(document.getElementById('report-data').textContent);
  const metricTitle = { wall_s: 'T (s)', energy_j: 'E (J)', edp_js: 'EDP (J s)' };
  const metricOrder = ['T (s)', 'E (J)', 'EDP (J s)'];
  const envScale = { domain: data.environments };

  // Runs are stored as columns; the charts want rows.
  const R = data.runs;
  const runs = R.run_id.map((id, i) => ({
    run_id: id,
    plan_index: R.plan_index[i],
    workload: R.workload[i],
    environment: R.environment[i],
    cap: R.cap[i],
    repetition: R.repetition[i],
    status: R.status[i],
    variant: R.variant[i],
    start_s: R.start_s[i],
    wall_s: R.wall_s[i],
    energy_j: R.energy_j[i],
  }));

  function withTitles(rows) {
    return rows.map((r) => Object.assign({ metric_title: metricTitle[r.metric] || r.metric }, r));
  }

  function capX(w) {
    if (w.cap_axis === 'quantitative') {
      return { field: 'cap_w', type: 'quantitative', title: w.cap_title, scale: { zero: false } };
    }
    return { field: 'cap', type: 'ordinal', title: w.cap_title, sort: w.cap_levels };
  }

  const envColor = { field: 'environment', type: 'nominal', title: 'environment', scale: envScale };

  // T, E and EDP against the cap: median per environment with the 95% interval of the median.
  function curvesSpec(w) {
    if (w.curves.length === 0) return null;
    const tooltip = [
      { field: 'environment' }, { field: 'cap', title: 'cap' }, { field: 'metric_title', title: 'metric' },
      { field: 'median', format: '.4~g' }, { field: 'lo', title: '95% CI low', format: '.4~g' },
      { field: 'hi', title: '95% CI high', format: '.4~g' }, { field: 'n', title: 'runs' },
    ];
    const y = { field: 'median', type: 'quantitative', title: 'median', scale: { zero: false } };
    let layer;
    if (w.cap_axis === 'single') {
      const x = { field: 'environment', type: 'nominal', sort: data.environments, title: 'environment (' + w.cap_levels[0] + ')' };
      layer = [
        { mark: { type: 'rule' }, encoding: { x, y: { field: 'lo', type: 'quantitative', scale: { zero: false } }, y2: { field: 'hi' }, color: envColor } },
        { mark: { type: 'point', filled: true, size: 80 }, encoding: { x, y, color: envColor, tooltip } },
      ];
    } else {
      const x = capX(w);
      layer = [
        { mark: { type: 'area', opacity: 0.18 }, encoding: { x, y: { field: 'lo', type: 'quantitative', scale: { zero: false } }, y2: { field: 'hi' }, color: envColor } },
        { mark: { type: 'line', point: true }, encoding: { x, y, color: envColor, tooltip } },
      ];
    }
    return {
      data: { values: withTitles(w.curves) },
      facet: { column: { field: 'metric_title', type: 'nominal', title: null, sort: metricOrder } },
      resolve: { scale: { y: 'independent' } },
      // One level: a fixed step per environment, so that one or two points are not spread
      // over the whole panel.
      spec: { width: w.cap_axis === 'single' ? { step: 70 } : 260, height: 220, layer },
    };
  }

  // Overhead against the baseline: % of the baseline's median, with its 95% interval.
  function overheadSpec(w) {
    if (w.overheads.length === 0) return null;
    const tooltip = [
      { field: 'environment' }, { field: 'cap' }, { field: 'metric_title', title: 'metric' },
      { field: 'pct', title: 'overhead %', format: '+.2f' }, { field: 'lo', title: '95% CI low', format: '+.2f' },
      { field: 'hi', title: '95% CI high', format: '+.2f' },
    ];
    const y = { field: 'pct', type: 'quantitative', title: 'overhead (%)' };
    let layer;
    if (w.cap_axis === 'single') {
      const x = { field: 'environment', type: 'nominal', sort: data.environments, title: 'environment (' + w.cap_levels[0] + ')' };
      layer = [
        { mark: { type: 'bar', opacity: 0.7 }, encoding: { x, y, color: envColor, tooltip } },
        { mark: { type: 'rule' }, encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } } },
      ];
    } else {
      const x = capX(w);
      layer = [
        { mark: { type: 'area', opacity: 0.18 }, encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color: envColor } },
        { mark: { type: 'line', point: true }, encoding: { x, y, color: envColor, tooltip } },
      ];
    }
    layer.push({ mark: { type: 'rule', strokeDash: [4, 4], color: '#555' }, encoding: { y: { datum: 0 } } });
    return {
      data: { values: withTitles(w.overheads) },
      facet: { column: { field: 'metric_title', type: 'nominal', title: null, sort: metricOrder } },
      resolve: { scale: { y: 'independent' } },
      spec: { width: w.cap_axis === 'single' ? { step: 70 } : 260, height: 220, layer },
    };
  }

  // Distributions of E and T per environment, one column per cap level: a box (quartiles and
  // median; whiskers to the minimum and maximum: analyze's numbers, from the curves' data) and
  // every done run as a point, spread sideways by a fixed offset taken from its plan index, so
  // that the picture is the same at every opening. The rows are built here rather than with
  // Vega transforms (fold, calculate): with 10 000 runs that halves the drawing time.
  function distributionSpec(w) {
    const rows = [];
    for (const r of runs) {
      if (r.workload !== w.name || r.status !== 'done') continue;
      const jitter = ((r.plan_index * 2654435761) % 1000) / 1000 - 0.5;
      for (const [field, title] of [['energy_j', 'E (J)'], ['wall_s', 'T (s)']]) {
        const v = r[field];
        if (v === null || !isFinite(v)) continue;
        rows.push({ kind: 'run', environment: r.environment, cap: r.cap, metric_title: title,
          value: v, jitter, run_id: r.run_id, repetition: r.repetition });
      }
    }
    if (rows.length === 0) return null;
    for (const c of w.curves) {
      if (c.metric !== 'energy_j' && c.metric !== 'wall_s') continue;
      rows.push({ kind: 'box', environment: c.environment, cap: c.cap,
        metric_title: metricTitle[c.metric], q1: c.q1, q3: c.q3, median: c.median,
        min: c.min, max: c.max, n: c.n });
    }
    const x = { field: 'environment', type: 'nominal', sort: data.environments, title: null };
    const yScale = { zero: false };
    const box = { filter: "datum.kind === 'box'" };
    const boxTip = [{ field: 'environment' }, { field: 'n', title: 'runs' },
      { field: 'min', format: '.4~g' }, { field: 'q1', format: '.4~g' },
      { field: 'median', format: '.4~g' }, { field: 'q3', format: '.4~g' },
      { field: 'max', format: '.4~g' }];
    return {
      data: { values: rows },
      facet: {
        row: { field: 'metric_title', type: 'nominal', title: null, sort: ['E (J)', 'T (s)'] },
        column: { field: 'cap', type: 'ordinal', title: w.cap_title, sort: w.cap_levels },
      },
      resolve: { scale: { y: 'independent' } },
      spec: {
        width: Math.max(90, 55 * data.environments.length),
        height: 200,
        layer: [
          { transform: [box], mark: { type: 'rule' },
            encoding: { x, y: { field: 'min', type: 'quantitative', title: null, scale: yScale }, y2: { field: 'max' } } },
          { transform: [box], mark: { type: 'bar', size: 22, opacity: 0.45 },
            encoding: { x, y: { field: 'q1', type: 'quantitative', title: null, scale: yScale }, y2: { field: 'q3' }, color: envColor, tooltip: boxTip } },
          { transform: [box], mark: { type: 'tick', size: 22, thickness: 2, color: '#000' },
            encoding: { x, y: { field: 'median', type: 'quantitative', title: null, scale: yScale } } },
          {
            transform: [{ filter: "datum.kind === 'run'" }],
            mark: { type: 'point', filled: true, size: 14, opacity: 0.6 },
            encoding: {
              x, y: { field: 'value', type: 'quantitative', title: null, scale: yScale }, color: envColor,
              xOffset: { field: 'jitter', type: 'quantitative', scale: { domain: [-1, 1] } },
              tooltip: [{ field: 'run_id' }, { field: 'repetition' }, { field: 'value', format: '.4~g' }],
            },
          },
        ],
      },
    };
  }

  // Power over time of one run, with its idle power (total) as a dashed rule.
  function traceSpec() {
    const t = data.trace;
    if (!t.points || t.points.length === 0) return null;
    const layer = [{
      mark: { type: 'line', strokeWidth: 1.2 },
      encoding: {
        x: { field: 't_s', type: 'quantitative', title: 'time since the run started (s)' },
        y: { field: 'power_w', type: 'quantitative', title: 'power (W)' },
        color: { field: 'domain', type: 'nominal', title: 'domain' },
        tooltip: [{ field: 'domain' }, { field: 't_s', format: '.2f' }, { field: 'power_w', format: '.1f' }],
      },
    }];
    if (t.idle_power_w !== null) {
      layer.push({
        data: { values: [{ idle: t.idle_power_w }] },
        mark: { type: 'rule', strokeDash: [6, 4], color: '#333' },
        encoding: { y: { field: 'idle', type: 'quantitative' }, tooltip: [{ field: 'idle', title: 'idle power (total, W)', format: '.1f' }] },
      });
    }
    return { data: { values: t.points }, width: 900, height: 260, layer };
  }

  // Order of the runs: start time against plan index, coloured by variant.
  function orderSpec() {
    const rows = runs.filter((r) => r.start_s !== null);
    if (rows.length === 0) return null;
    return {
      data: { values: rows },
      width: 900,
      height: 280,
      mark: { type: 'point', filled: true, size: 18 },
      encoding: {
        x: { field: 'plan_index', type: 'quantitative', title: 'plan index' },
        y: { field: 'start_s', type: 'quantitative', title: 'start time (s after the first run)' },
        color: { field: 'variant', type: 'nominal', title: 'variant', legend: { columns: 2, symbolLimit: 80, labelLimit: 320, orient: 'bottom' } },
        shape: { field: 'status', type: 'nominal', title: 'status' },
        tooltip: [{ field: 'run_id' }, { field: 'variant' }, { field: 'repetition' }, { field: 'status' }, { field: 'start_s', format: '.1f' }],
      },
    };
  }

  function specFor(el) {
    const kind = el.dataset.chart;
    const w = el.dataset.workload !== undefined ? data.workloads[Number(el.dataset.workload)] : null;
    switch (kind) {
      case 'curves': return curvesSpec(w);
      case 'overheads': return overheadSpec(w);
      case 'distributions': return distributionSpec(w);
      case 'trace': return traceSpec();
      case 'order': return orderSpec();
      default: throw new Error('unknown chart kind ' + kind);
    }
  }

  const options = {
    mode: 'vega-lite',
    renderer: 'canvas',
    actions: { export: true, source: true, compiled: false, editor: false },
    config: { font: 'sans-serif', legend: { labelLimit: 320 } },
  };
  const charts = Array.from(document.querySelectorAll('.chart'));
  body.dataset.chartsExpected = String(charts.length);
  let empty = 0;
  Promise.allSettled(charts.map((el) => {
    let spec;
    try {
      spec = specFor(el);
    } catch (e) {
      return Promise.reject(e);
    }
    if (spec === null) {
      empty += 1;
      el.classList.add('empty');
      el.textContent = 'Nothing to draw.';
      return Promise.resolve(null);
    }
    const begin = performance.now();
    return vegaEmbed(el, spec, options).then((result) => {
      // How long this chart took from its turn to drawn (the charts are drawn one after another).
      el.dataset.renderMs = (performance.now() - begin).toFixed(0);
      return result;
    });
  })).then((results) => {
    let rendered = 0;
    results.forEach((r, i) => {
      if (r.status === 'fulfilled' && r.value) {
        rendered += 1;
      } else if (r.status === 'rejected') {
        noteError('chart ' + charts[i].dataset.chart + ': ' + r.reason);
      }
    });
    body.dataset.chartsRendered = String(rendered);
    body.dataset.chartsEmpty = String(empty);
    body.dataset.renderMs = performance.now().toFixed(0);
    body.dataset.done = '1';
  });
})();
