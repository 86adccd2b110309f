// The default look of the React components, as one stylesheet injected once per document (the old
// front end's `<BreachAlertsDashboard userId={userId} />` imports no CSS, so the component brings
// its own). Every colour, the radius and the font are CSS variables with defaults: set
// `--ah-accent`, `--ah-surface`, … on any ancestor to theme it. No CSS framework.

export const STYLE_ID = 'alerthub-react-styles';

export const alerthubStyles = `
.ah-root {
  --ah-font: inherit; --ah-radius: 10px;
  --ah-bg: #f3f5f9; --ah-surface: #ffffff; --ah-text: #0f172a; --ah-muted: #4b5a6e; --ah-border: #d5dce7;
  --ah-accent: #4f46e5; --ah-accent-text: #ffffff; --ah-ok: #15803d; --ah-warn: #92400e; --ah-bad: #b91c1c;
  --ah-sev-low: #0369a1; --ah-sev-low-bg: #e0f2fe; --ah-sev-medium: #92400e; --ah-sev-medium-bg: #fef3c7;
  --ah-sev-high: #9a3412; --ah-sev-high-bg: #ffedd5; --ah-sev-critical: #991b1b; --ah-sev-critical-bg: #fee2e2;
  font-family: var(--ah-font); color: var(--ah-text); box-sizing: border-box;
}
.ah-root *, .ah-root *::before, .ah-root *::after { box-sizing: inherit; }
.ah-dashboard { background: var(--ah-bg); border: 1px solid var(--ah-border); border-radius: var(--ah-radius); padding: 16px; max-width: 100%; }
.ah-head { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 12px; margin-bottom: 12px; }
.ah-title { font-size: 1.15em; margin: 0; flex: 1 1 auto; }
.ah-count { min-width: 24px; padding: 1px 8px; border-radius: 999px; text-align: center; font-weight: 700; background: var(--ah-sev-critical); color: #fff; }
.ah-count[data-count="0"] { background: var(--ah-border); color: var(--ah-text); }
.ah-badge { display: inline-flex; align-items: center; gap: 6px; max-width: 100%; padding: 2px 10px; border-radius: 999px; font-size: .85em; font-weight: 600;
  background: var(--ah-surface); border: 1px solid var(--ah-border); color: var(--ah-text); overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.ah-dot { width: 8px; height: 8px; border-radius: 50%; background: var(--ah-muted); flex: none; }
.ah-badge[data-state="open"] .ah-dot { background: var(--ah-ok); }
.ah-badge[data-state="connecting"] .ah-dot, .ah-badge[data-state="reconnecting"] .ah-dot { background: var(--ah-warn); }
.ah-badge[data-state="stopped"] .ah-dot, .ah-badge[data-state="unauthenticated"] .ah-dot { background: var(--ah-bad); }
.ah-health { display: grid; grid-template-columns: repeat(auto-fit, minmax(120px, 1fr)); gap: 8px; margin: 0 0 12px; padding: 10px 12px;
  background: var(--ah-surface); border: 1px solid var(--ah-border); border-radius: var(--ah-radius); font-size: .85em; }
.ah-health div { min-width: 0; }
.ah-health dt { color: var(--ah-muted); font-weight: 600; }
.ah-health dd { margin: 0; overflow-wrap: anywhere; }
.ah-btn { font: inherit; font-size: .9em; font-weight: 600; padding: 5px 12px; border-radius: 8px; cursor: pointer;
  border: 1px solid var(--ah-border); background: var(--ah-surface); color: var(--ah-text); }
.ah-btn:focus-visible { outline: 2px solid var(--ah-accent); outline-offset: 2px; }
.ah-btn[disabled] { opacity: .55; cursor: default; }
.ah-btn-primary { background: var(--ah-accent); border-color: var(--ah-accent); color: var(--ah-accent-text); }
.ah-btn[aria-pressed="true"] { border-color: var(--ah-accent); box-shadow: inset 0 0 0 1px var(--ah-accent); }
.ah-toolbar { display: flex; flex-wrap: wrap; gap: 8px; justify-content: space-between; margin-bottom: 10px; }
.ah-toolbar > div { display: flex; gap: 6px; }
.ah-notice { margin: 0 0 12px; padding: 8px 12px; border-radius: var(--ah-radius); background: var(--ah-sev-critical-bg); color: var(--ah-sev-critical); }
.ah-list { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 8px; }
.ah-alert { display: flex; flex-wrap: wrap; gap: 6px 12px; align-items: flex-start; padding: 10px 12px; border-radius: var(--ah-radius);
  background: var(--ah-surface); border: 1px solid var(--ah-border); border-left: 4px solid var(--ah-sev, var(--ah-muted)); }
.ah-alert[data-read="true"] { background: var(--ah-bg); }
.ah-alert-main { flex: 1 1 220px; min-width: 0; }
.ah-alert-title { margin: 0; font-size: 1em; overflow-wrap: anywhere; }
.ah-alert-desc { margin: 4px 0 0; color: var(--ah-muted); overflow-wrap: anywhere; }
.ah-meta { display: flex; flex-wrap: wrap; gap: 4px 14px; margin-top: 4px; font-size: .85em; color: var(--ah-muted); }
.ah-sev-pill { display: inline-block; padding: 0 6px; margin-right: 6px; border-radius: 5px; font-size: .75em; font-weight: 700; letter-spacing: .04em;
  color: var(--ah-sev, var(--ah-muted)); background: var(--ah-sev-bg, var(--ah-bg)); }
.ah-sev-low { --ah-sev: var(--ah-sev-low); --ah-sev-bg: var(--ah-sev-low-bg); }
.ah-sev-medium { --ah-sev: var(--ah-sev-medium); --ah-sev-bg: var(--ah-sev-medium-bg); }
.ah-sev-high { --ah-sev: var(--ah-sev-high); --ah-sev-bg: var(--ah-sev-high-bg); }
.ah-sev-critical { --ah-sev: var(--ah-sev-critical); --ah-sev-bg: var(--ah-sev-critical-bg); }
.ah-empty { padding: 16px; text-align: center; color: var(--ah-muted); }
.ah-toasts { display: flex; flex-direction: column; gap: 6px; margin-bottom: 10px; }
.ah-toast { display: flex; gap: 10px; align-items: flex-start; justify-content: space-between; padding: 8px 12px; border-radius: var(--ah-radius);
  background: var(--ah-text); color: var(--ah-surface); border-left: 4px solid var(--ah-sev, var(--ah-accent)); }
.ah-toast .ah-btn { padding: 0 8px; background: transparent; color: inherit; border-color: transparent; }
`;

/** Adds the stylesheet to `doc` once (no-op outside a browser). */
export function injectStyles(doc = globalThis.document) {
  if (!doc || doc.getElementById(STYLE_ID)) return;
  const el = doc.createElement('style');
  el.id = STYLE_ID;
  el.textContent = alerthubStyles;
  doc.head.appendChild(el);
}
