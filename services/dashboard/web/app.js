/* Shequ governance dashboard: plain JS, no build step, same-origin requests only.
 * index.html (data-page="app") and report.html (data-page="report") share this file. */
'use strict';
(() => {

// ---- every UI string: key -> {zh, en} ---------------------------------------------------------
const I18N = {
  app_title: { zh: '社区治理看板', en: 'Community Governance Dashboard' },
  lang_other: { zh: 'English', en: '中文' },
  username: { zh: '用户名', en: 'User name' },
  password: { zh: '密码', en: 'Password' },
  sign_in: { zh: '登录', en: 'Sign in' },
  bad_login: { zh: '用户名或密码错误', en: 'Wrong user name or password' },
  logout: { zh: '退出', en: 'Sign out' },
  scope: { zh: '范围', en: 'Scope' },
  from: { zh: '起', en: 'From' },
  to: { zh: '止', en: 'To' },
  bad_dates: { zh: '起始日期不能晚于截止日期', en: 'The start date is after the end date' },
  quarterly_report: { zh: '季度公开报告', en: 'Quarterly report' },
  headline: { zh: '核心指标', en: 'Headline' },
  trend: { zh: '每日趋势', en: 'Daily trend' },
  ranking_community: { zh: '社区排名', en: 'Communities' },
  ranking_company: { zh: '物业公司排名', en: 'Property companies' },
  overdue: { zh: '超期工单', en: 'Overdue tickets' },
  hotspots: { zh: '重复问题热点', en: 'Repeat hotspots' },
  back: { zh: '返回', en: 'Back' },
  ticket: { zh: '工单', en: 'Ticket' },
  clocks: { zh: '时限', en: 'Clocks' },
  timeline: { zh: '处理记录', en: 'Timeline' },
  loading: { zh: '加载中…', en: 'Loading…' },
  no_data: { zh: '暂无数据', en: 'No data' },
  print: { zh: '打印', en: 'Print' },
  dashboard: { zh: '返回看板', en: 'Dashboard' },
  go: { zh: '查看', en: 'Show' },
  quarter: { zh: '季度', en: 'Quarter' },
  report_title: { zh: '社区服务季度公开报告', en: 'Quarterly public service report' },
  report_sub: { zh: '晒服务、晒收支', en: 'Services and accounts in the open' },
  period: { zh: '统计期间', en: 'Period' },
  kpi_figures: { zh: '服务指标', en: 'Service figures' },
  kpi_counts: { zh: '指标明细', en: 'Underlying counts' },
  by_category: { zh: '分类工单', en: 'Tickets by category' },
  escalations: { zh: '督办升级', en: 'Escalations' },
  need_community: { zh: '缺少参数 community', en: 'Missing parameter community' },
  sign_in_first: { zh: '请先登录', en: 'Please sign in first' },
  // KPI names and fallback formulas (the API's `formulas` wins)
  'kpi.response_on_time_rate': { zh: '响应及时率', en: 'Response on time' },
  'kpi.completion_on_time_rate': { zh: '办结及时率', en: 'Completion on time' },
  'kpi.reply_rate': { zh: '回复率', en: 'Reply rate' },
  'kpi.satisfaction_rate': { zh: '满意率', en: 'Satisfaction' },
  'kpi.tickets': { zh: '工单数', en: 'Tickets' },
  'kpi.overdue_open': { zh: '超期未办结', en: 'Overdue open' },
  'f.response_on_time_rate': { zh: '按时响应数 / (已响应数 + 超过响应时限仍未响应数)', en: 'responded_on_time / (responded + open tickets past their respond deadline)' },
  'f.completion_on_time_rate': { zh: '按时办结数 / (已办结数 + 超过办结时限仍未办结数)', en: 'resolved_on_time / (resolved + open tickets past their resolve deadline)' },
  'f.reply_rate': { zh: '已首次响应工单数 / 工单数', en: 'tickets with a first response / tickets' },
  'f.satisfaction_rate': { zh: '(满意 + 基本满意) / 已评价数', en: '(satisfied + basically_satisfied) / rated' },
  'f.tickets': { zh: '期间内创建的工单（不含合并、撤销）', en: 'tickets created in the period (not merged or cancelled)' },
  'f.overdue_open': { zh: '超过任一时限仍未办结的工单', en: 'open tickets past any deadline' },
  // column labels
  'col.rank': { zh: '排名', en: '#' },
  'col.id': { zh: '编号', en: 'ID' },
  'col.name': { zh: '名称', en: 'Name' },
  'col.day': { zh: '日期', en: 'Day' },
  'col.ticket_id': { zh: '工单号', en: 'Ticket' },
  'col.community': { zh: '社区', en: 'Community' },
  'col.community_id': { zh: '社区', en: 'Community' },
  'col.company': { zh: '物业公司', en: 'Company' },
  'col.source': { zh: '来源', en: 'Source' },
  'col.tier': { zh: '等级', en: 'Tier' },
  'col.category': { zh: '类别', en: 'Category' },
  'col.status': { zh: '状态', en: 'Status' },
  'col.assignee': { zh: '处理人', en: 'Assignee' },
  'col.assignee_id': { zh: '处理人', en: 'Assignee' },
  'col.late_by_s': { zh: '超期时长', en: 'Late by' },
  'col.escalation_level': { zh: '督办级别', en: 'Escalation' },
  'col.overdue_clock': { zh: '超期时限', en: 'Overdue clock' },
  'col.created_at': { zh: '创建时间', en: 'Created' },
  'col.updated_at': { zh: '更新时间', en: 'Updated' },
  'col.building': { zh: '楼栋', en: 'Building' },
  'col.repeats': { zh: '重复次数', en: 'Repeats' },
  'col.last_at': { zh: '最近一次', en: 'Last' },
  'col.clock': { zh: '时限', en: 'Clock' },
  'col.due': { zh: '截止时间', en: 'Due' },
  'col.done_at': { zh: '完成时间', en: 'Done at' },
  'col.state': { zh: '状态', en: 'State' },
  'col.at': { zh: '时间', en: 'Time' },
  'col.type': { zh: '类型', en: 'Type' },
  'col.actor': { zh: '操作人', en: 'Actor' },
  'col.detail': { zh: '详情', en: 'Detail' },
  'col.level': { zh: '级别', en: 'Level' },
  'col.count': { zh: '次数', en: 'Count' },
  'col.escalations': { zh: '升级次数', en: 'Escalations' },
  'col.reporter_count': { zh: '报告人数', en: 'Reporters' },
  // the ticket page: deadlines and times (the KPI tables use some of the same names for counts)
  'tk.company_id': { zh: '物业公司', en: 'Property company' },
  'tk.occurrence_count': { zh: '告警次数', en: 'Alarm occurrences' },
  'tk.repeat': { zh: '重复问题', en: 'Repeat problem' },
  'tk.respond_due': { zh: '响应时限', en: 'Respond by' },
  'tk.responded_at': { zh: '响应时间', en: 'Responded at' },
  'tk.report_due': { zh: '报告时限', en: 'Report by' },
  'tk.reported_at': { zh: '报告时间', en: 'Reported at' },
  'tk.plan_due': { zh: '方案时限', en: 'Plan by' },
  'tk.planned_at': { zh: '方案时间', en: 'Planned at' },
  'tk.resolve_due': { zh: '办结时限', en: 'Resolve by' },
  'tk.resolved_at': { zh: '办结时间', en: 'Resolved at' },
  'tk.paused_seconds': { zh: '暂停时长（秒）', en: 'Paused (s)' },
  'tk.closed_at': { zh: '关闭时间', en: 'Closed at' },
  'col.reopen_count': { zh: '重开次数', en: 'Reopened' },
  'col.rating': { zh: '评价', en: 'Rating' },
  'col.summary': { zh: '摘要', en: 'Summary' },
  'col.expected_at': { zh: '预计完成', en: 'Expected' },
  'col.tickets': { zh: '工单数', en: 'Tickets' },
  'col.responded': { zh: '已响应', en: 'Responded' },
  'col.responded_on_time': { zh: '按时响应', en: 'Responded on time' },
  'col.respond_due': { zh: '响应应计数', en: 'Response due' },
  'col.resolved': { zh: '已办结', en: 'Resolved' },
  'col.resolved_on_time': { zh: '按时办结', en: 'Resolved on time' },
  'col.resolve_due': { zh: '办结应计数', en: 'Resolution due' },
  'col.rated': { zh: '已评价', en: 'Rated' },
  'col.satisfied': { zh: '满意（含基本满意）', en: 'Satisfied' },
  'col.overdue_open': { zh: '超期未办结', en: 'Overdue open' },
  'col.response_on_time_rate': { zh: '响应及时率', en: 'Response on time' },
  'col.completion_on_time_rate': { zh: '办结及时率', en: 'Completion on time' },
  'col.reply_rate': { zh: '回复率', en: 'Reply rate' },
  'col.satisfaction_rate': { zh: '满意率', en: 'Satisfaction' },
  // scope kinds
  'kind.district': { zh: '全区', en: 'District' },
  'kind.street': { zh: '街道', en: 'Street' },
  'kind.community': { zh: '社区', en: 'Community' },
  'kind.company': { zh: '物业', en: 'Company' },
  // duration units
  'unit.d': { zh: '天', en: 'd' },
  'unit.h': { zh: '小时', en: 'h' },
  'unit.m': { zh: '分钟', en: 'm' },
  // escalation levels (DESIGN §3)
  'esc.0': { zh: '未升级', en: 'none' },
  'esc.1': { zh: '1级 物业经理', en: '1 company manager' },
  'esc.2': { zh: '2级 社区专人', en: '2 community supervisor' },
  'esc.3': { zh: '3级 街道', en: '3 street office' },
  // tiers, categories, statuses, clocks, events
  'tier.urgent': { zh: '紧急', en: 'urgent' },
  'tier.general': { zh: '一般', en: 'general' },
  'tier.medium': { zh: '中等', en: 'medium' },
  'tier.difficult': { zh: '疑难', en: 'difficult' },
  'cat.sanitation': { zh: '环境卫生', en: 'Sanitation' },
  'cat.greenery': { zh: '绿化养护', en: 'Greenery' },
  'cat.parking': { zh: '停车秩序', en: 'Parking' },
  'cat.other': { zh: '其他', en: 'Other' },
  'cat.facility_damage': { zh: '公共设施损坏', en: 'Facility damage' },
  'cat.water_leak': { zh: '漏水', en: 'Water leak' },
  'cat.noise': { zh: '噪音扰民', en: 'Noise' },
  'cat.high_throw': { zh: '高空抛物', en: 'Objects thrown from height' },
  'cat.security': { zh: '治安门禁', en: 'Security / gates' },
  'cat.ebike_charging': { zh: '电瓶车飞线充电', en: 'E-bike flying-wire charging' },
  'cat.elevator': { zh: '电梯故障', en: 'Elevator' },
  'cat.fire_hazard': { zh: '消防隐患', en: 'Fire hazard' },
  'cat.dispute': { zh: '邻里纠纷', en: 'Neighbour dispute' },
  'cat.illegal_construction': { zh: '违章搭建', en: 'Illegal construction' },
  'cat.building_quality': { zh: '房屋质量', en: 'Building quality' },
  'st.assigned': { zh: '已派单', en: 'assigned' },
  'st.in_progress': { zh: '处理中', en: 'in progress' },
  'st.paused': { zh: '已暂停', en: 'paused' },
  'st.resolved': { zh: '已办结', en: 'resolved' },
  'st.closed': { zh: '已关闭', en: 'closed' },
  'st.merged': { zh: '已合并', en: 'merged' },
  'st.cancelled': { zh: '已撤销', en: 'cancelled' },
  'st.running': { zh: '计时中', en: 'running' },
  'st.met': { zh: '按时', en: 'met' },
  'st.on_time': { zh: '按时', en: 'on time' },
  'st.late': { zh: '超时完成', en: 'late' },
  'st.breached': { zh: '已超期', en: 'breached' },
  'st.overdue': { zh: '已超期', en: 'overdue' },
  'st.stopped': { zh: '已停止', en: 'stopped' },
  'clock.respond': { zh: '响应', en: 'respond' },
  'clock.report': { zh: '报告', en: 'report' },
  'clock.plan': { zh: '方案', en: 'plan' },
  'clock.resolve': { zh: '办结', en: 'resolve' },
  'ev.created': { zh: '创建', en: 'created' },
  'ev.merged': { zh: '合并', en: 'merged' },
  'ev.assigned': { zh: '派单', en: 'assigned' },
  'ev.transferred': { zh: '转派', en: 'transferred' },
  'ev.responded': { zh: '响应', en: 'responded' },
  'ev.reported': { zh: '报告', en: 'reported' },
  'ev.planned': { zh: '制定方案', en: 'planned' },
  'ev.paused': { zh: '暂停', en: 'paused' },
  'ev.resumed': { zh: '恢复', en: 'resumed' },
  'ev.resolved': { zh: '办结', en: 'resolved' },
  'ev.reopened': { zh: '重开', en: 'reopened' },
  'ev.rated': { zh: '评价', en: 'rated' },
  'ev.closed': { zh: '关闭', en: 'closed' },
  'ev.cancelled': { zh: '撤销', en: 'cancelled' },
  'ev.sla_warning': { zh: '时限预警', en: 'SLA warning' },
  'ev.sla_breached': { zh: '超时', en: 'SLA breached' },
  'ev.escalated': { zh: '督办升级', en: 'escalated' },
  'ev.device_cleared': { zh: '设备告警解除', en: 'device cleared' },
  'ev.occurrence': { zh: '重复告警', en: 'occurrence' },
  'ev.rejected': { zh: '操作被拒绝', en: 'rejected' },
};

const RATES = ['response_on_time_rate', 'completion_on_time_rate', 'reply_rate', 'satisfaction_rate'];
const HEADLINE = [...RATES, 'tickets', 'overdue_open'];
// numerator / denominator shown under each rate card
const PARTS = {
  response_on_time_rate: ['responded_on_time', 'respond_due'],
  completion_on_time_rate: ['resolved_on_time', 'resolve_due'],
  reply_rate: ['responded', 'tickets'],
  satisfaction_rate: ['satisfied', 'rated'],
};
const CODE_PREFIX = { tier: 'tier', category: 'cat', status: 'st', state: 'st', clock: 'clock', overdue_clock: 'clock', type: 'ev' };

const S = { lang: 'zh', me: null, data: {}, gen: 0, chart: null, ticket: null };
try { S.lang = localStorage.getItem('shequ.lang') === 'en' ? 'en' : 'zh'; } catch (_) { /* private mode */ }
const $ = (sel) => document.querySelector(sel);

// ---- helpers --------------------------------------------------------------------------------
function t(key, fallback) {
  const e = I18N[key];
  return e ? e[S.lang] : (fallback !== undefined ? fallback : key);
}
function code(field, v) {
  const p = CODE_PREFIX[field];
  return p && v != null ? t(`${p}.${v}`, String(v)) : v;
}
function el(tag, attrs, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') n.className = v;
    else if (k === 'text') n.textContent = v;
    else if (k.startsWith('on')) n.addEventListener(k.slice(2), v);
    else n.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c != null) n.append(c instanceof Node ? c : String(c));
  return n;
}
const DASH = '—';
function pct(v) { return v == null || v === '' || isNaN(v) ? DASH : `${(Number(v) * 100).toFixed(1)}%`; }
function txt(v) {
  if (v == null || v === '') return DASH;
  if (typeof v === 'object') return v.name ?? v.id ?? JSON.stringify(v);
  return String(v);
}
// Shanghai wall time "YYYY-MM-DD HH:MM" for ISO timestamps; anything else unchanged
const TS_FMT = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit',
  day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false });
function when(v) {
  if (v == null || v === '') return DASH;
  if (typeof v !== 'string' || !/^\d{4}-\d\d-\d\dT/.test(v)) return txt(v);
  const d = new Date(v);
  return isNaN(d) ? v : TS_FMT.format(d);
}
function shanghaiDay(d) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' }).format(d);
}
function addDays(day, n) {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}
function quarterOf(day) { return `${day.slice(0, 4)}Q${Math.floor((Number(day.slice(5, 7)) - 1) / 3) + 1}`; }
// 2天3小时 / 2d 3h: the two largest non-zero units
function duration(s) {
  if (s == null || isNaN(s)) return DASH;
  s = Math.max(0, Math.floor(Number(s)));
  const parts = [[Math.floor(s / 86400), 'unit.d'], [Math.floor(s % 86400 / 3600), 'unit.h'], [Math.floor(s % 3600 / 60), 'unit.m']];
  const start = parts.findIndex(([n]) => n > 0);
  if (start < 0) return `0${t('unit.m')}`;
  return parts.slice(start, start + 2).filter(([n]) => n > 0)
    .map(([n, u]) => `${n}${t(u)}`).join(S.lang === 'en' ? ' ' : '');
}
function timeish(k) { return /(_at|_due|^due|^at)$/.test(k); }
function cell(k, v) {
  if (k === 'late_by_s') return duration(v);
  if (k === 'escalation_level' || k === 'level') return v == null ? DASH : t(`esc.${v}`, String(v));
  if (/_rate$/.test(k)) return pct(v);
  if (timeish(k)) return when(v);
  if (CODE_PREFIX[k]) return code(k, v) ?? DASH;
  return txt(v);
}
function detailText(d) {
  if (d == null || d === '') return '';
  if (typeof d !== 'object') return String(d);
  return Object.entries(d).map(([k, v]) =>
    `${t(`col.${k}`, k)}: ${v != null && typeof v === 'object' ? JSON.stringify(v) : cell(k, v)}`).join('；');
}

// ---- API ------------------------------------------------------------------------------------
async function api(path, opts = {}) {
  const init = { credentials: 'same-origin', headers: { Accept: 'application/json' }, ...opts };
  if (opts.json !== undefined) {
    init.method = init.method || 'POST';
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(opts.json);
    delete init.json;
  }
  const res = await fetch(path, init);
  let body = null;
  if (res.status !== 204) { try { body = await res.json(); } catch (_) { body = null; } }
  if (!res.ok) {
    const err = new Error((body && body.error && body.error.message) || `HTTP ${res.status}`);
    err.status = res.status;
    err.body = body;
    throw err;
  }
  return body;
}
function params() { return { scope: $('#scope').value, from: $('#from').value, to: $('#to').value }; }
function url(path, extra) {
  const [p, q] = path.split('?');
  const sp = new URLSearchParams(q || '');
  for (const [k, v] of Object.entries({ ...params(), ...(extra || {}) })) if (v) sp.set(k, v);
  return `${p}?${sp}`;
}
function showError(e) {
  const box = $('#error');
  if (!box) return;
  const msg = e == null ? '' : (typeof e === 'string' ? e : e.message);
  box.textContent = msg || '';
  box.hidden = !msg;
}

// ---- static text, language ------------------------------------------------------------------
function applyStatic() {
  document.documentElement.lang = S.lang === 'zh' ? 'zh-CN' : 'en';
  document.querySelectorAll('[data-i18n]').forEach((n) => { n.textContent = t(n.dataset.i18n); });
  document.querySelectorAll('.lang-switch').forEach((n) => { n.textContent = t('lang_other'); });
}
function switchLang() {
  S.lang = S.lang === 'zh' ? 'en' : 'zh';
  try { localStorage.setItem('shequ.lang', S.lang); } catch (_) { /* ignore */ }
  applyStatic();
  if (document.body.dataset.page === 'report') { renderReport(); return; }
  document.title = t('app_title');
  if (S.me) { fillScopes(); renderOverview(); if (S.ticket) renderTicket(); }
}

// ---- sign-in --------------------------------------------------------------------------------
function showLogin() {
  S.me = null;
  $('#app-view').hidden = true;
  $('#login-view').hidden = false;
  document.body.dataset.state = 'login';
}
async function onLogin(ev) {
  ev.preventDefault();
  const f = ev.target;
  showError(null);
  try {
    await api('/api/login', { json: { username: f.username.value, password: f.password.value } });
    f.password.value = '';
    S.me = await api('/api/me');
    startApp();
  } catch (e) {
    showError(e.status === 401 && !(e.body && e.body.error) ? t('bad_login') : e);
  }
}
async function onLogout() {
  try { await api('/api/logout', { method: 'POST' }); } catch (_) { /* cookie is cleared anyway */ }
  S.data = {};
  location.hash = '';
  showLogin();
}

// ---- overview -------------------------------------------------------------------------------
function fillScopes() {
  const sel = $('#scope');
  const cur = sel.value || S.me.scope;
  sel.textContent = '';
  for (const s of S.me.scopes || []) {
    const label = `${t(`kind.${s.kind}`, s.kind || '')} ${s.name || s.id || ''}`.trim();
    sel.append(el('option', { value: s.scope }, label || s.scope));
  }
  if (![...sel.options].some((o) => o.value === cur) && cur) sel.append(el('option', { value: cur }, cur));
  sel.value = cur || (sel.options[0] && sel.options[0].value) || '';
}
function startApp() {
  $('#login-view').hidden = true;
  $('#app-view').hidden = false;
  $('#user-name').textContent = S.me.name || S.me.username || '';
  fillScopes();
  if (!$('#to').value) {
    const today = shanghaiDay(new Date());
    $('#to').value = today;
    $('#from').value = addDays(today, -29);
  }
  route();
  loadAll();
}
const SOURCES = {
  kpi: '/api/kpi',
  trend: '/api/trend',
  rankCommunity: '/api/ranking?by=community',
  rankCompany: '/api/ranking?by=company',
  overdue: '/api/overdue?limit=200',
  hotspots: '/api/hotspots',
};
async function loadAll() {
  const p = params();
  if (p.from && p.to && p.from > p.to) { showError(t('bad_dates')); return; }
  const gen = ++S.gen;
  document.body.dataset.state = 'loading';
  showError(null);
  updateReportLink();
  const keys = Object.keys(SOURCES);
  const results = await Promise.allSettled(keys.map((k) => api(url(SOURCES[k]))));
  if (gen !== S.gen) return; // a newer load started
  const failed = results.find((r) => r.status === 'rejected');
  if (failed && failed.reason.status === 401) { showLogin(); return; }
  S.data = { scope: p.scope, from: p.from, to: p.to };
  keys.forEach((k, i) => { S.data[k] = results[i].status === 'fulfilled' ? results[i].value : null; });
  if (failed) showError(failed.reason);
  renderOverview();
  document.body.dataset.state = 'ready';
}
function updateReportLink() {
  const a = $('#report-link');
  const [kind, ...rest] = $('#scope').value.split(':');
  a.hidden = kind !== 'community';
  if (!a.hidden) {
    a.href = `/report.html?community=${encodeURIComponent(rest.join(':'))}&quarter=${quarterOf($('#to').value || shanghaiDay(new Date()))}`;
  }
}
function formula(k, formulas) {
  const f = formulas && formulas[k];
  if (f == null) return t(`f.${k}`);
  return typeof f === 'object' ? (f[S.lang] || f.zh || f.en || JSON.stringify(f)) : String(f);
}
function card(k, kpi) {
  const v = kpi[k];
  const isRate = RATES.includes(k);
  const parts = PARTS[k];
  return el('div', { class: 'card', 'data-kpi': k, 'data-value': v === undefined ? 'null' : JSON.stringify(v),
    title: formula(k, kpi.formulas) },
  el('div', { class: 'card-label' }, t(`kpi.${k}`)),
  el('div', { class: 'card-value' }, isRate ? pct(v) : txt(v)),
  parts ? el('div', { class: 'card-sub' }, `${txt(kpi[parts[0]])} / ${txt(kpi[parts[1]])}`) : null);
}
function renderHeadline(box, kpi) {
  box.textContent = '';
  if (!kpi) return;
  for (const k of HEADLINE) box.append(card(k, kpi));
}
function renderOverview() {
  const d = S.data;
  const box = $('#headline');
  renderHeadline(box, d.kpi);
  box.dataset.scope = d.scope || '';
  box.dataset.from = d.from || '';
  box.dataset.to = d.to || '';
  renderTrend(d.trend);
  const rankCols = ['rank', 'name', 'tickets', ...RATES, 'overdue_open'];
  table($('#ranking-community'), rankCols, ranked(d.rankCommunity), url(SOURCES.rankCommunity, { format: 'csv' }));
  table($('#ranking-company'), rankCols, ranked(d.rankCompany), url(SOURCES.rankCompany, { format: 'csv' }));
  table($('#overdue'), ['ticket_id', 'community', 'tier', 'category', 'status', 'assignee', 'overdue_clock', 'late_by_s',
    'escalation_level'], rows(d.overdue), url(SOURCES.overdue, { format: 'csv' }));
  table($('#hotspots'), ['community', 'building', 'category', 'tickets', 'repeats', 'last_at'], rows(d.hotspots),
    url(SOURCES.hotspots, { format: 'csv' }));
}
function rows(x) { return (x && Array.isArray(x.rows) ? x.rows : Array.isArray(x) ? x : null); }
function ranked(x) { const r = rows(x); return r && r.map((row, i) => ({ rank: i + 1, ...row })); }

// cols: field names; values formatted by cell(); ticket_id becomes a link to the ticket view
function table(box, cols, data, csvHref) {
  box.textContent = '';
  const bar = el('div', { class: 'table-bar' });
  if (csvHref) bar.append(el('a', { class: 'csv', href: csvHref, download: '' }, 'CSV'));
  const isNum = (c) => /_rate$/.test(c) || (data || []).some((r) => typeof r[c] === 'number') && !/level|^id$/.test(c);
  const head = el('tr', {}, ...cols.map((c) => el('th', { class: isNum(c) ? 'num' : null }, t(`col.${c}`, c))));
  const body = el('tbody');
  if (!data || !data.length) {
    body.append(el('tr', {}, el('td', { class: 'empty', colspan: cols.length }, data ? t('no_data') : DASH)));
  }
  for (const r of data || []) {
    body.append(el('tr', {}, ...cols.map((c) => {
      const v = r[c];
      if (c === 'ticket_id' && v != null) {
        return el('td', {}, el('a', { class: 'ticket-link', href: `#ticket/${encodeURIComponent(v)}`, 'data-ticket-id': v }, String(v)));
      }
      return el('td', { class: isNum(c) ? 'num' : null }, cell(c, v));
    })));
  }
  box.append(bar, el('div', { class: 'table-wrap' }, el('table', {}, el('thead', {}, head), body)));
}

function renderTrend(data) {
  const box = $('#trend');
  const r = rows(data) || [];
  if (S.chart) { S.chart.dispose(); S.chart = null; }
  box.textContent = '';
  const csv = url(SOURCES.trend, { format: 'csv' });
  if (!window.echarts || !r.length) {
    table(box, ['day', 'tickets', ...RATES, 'overdue_open'], rows(data), csv);
    return;
  }
  const chartBox = el('div', { class: 'chart' });
  box.append(el('div', { class: 'table-bar' }, el('a', { class: 'csv', href: csv, download: '' }, 'CSV')), chartBox);
  try {
    S.chart = window.echarts.init(chartBox);
    S.chart.setOption({
      animation: false,
      tooltip: { trigger: 'axis', valueFormatter: (v) => (v == null ? DASH : `${v.toFixed(1)}%`) },
      legend: { data: RATES.map((k) => t(`kpi.${k}`)) },
      grid: { left: 48, right: 24, top: 40, bottom: 32 },
      xAxis: { type: 'category', data: r.map((x) => x.day) },
      yAxis: { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value}%' } },
      series: RATES.map((k) => ({ name: t(`kpi.${k}`), type: 'line', connectNulls: false,
        data: r.map((x) => (x[k] == null ? null : Math.round(x[k] * 1000) / 10)) })),
    });
  } catch (e) {
    S.chart = null;
    table(box, ['day', 'tickets', ...RATES, 'overdue_open'], r, csv);
  }
}

// ---- ticket view ----------------------------------------------------------------------------
function route() {
  const m = /^#ticket\/(.+)$/.exec(location.hash);
  $('#overview').hidden = !!m;
  $('#ticket').hidden = !m;
  if (m) { showTicket(decodeURIComponent(m[1])); return; }
  S.ticket = null;
  if (S.chart) S.chart.resize();
}
async function showTicket(id) {
  S.ticket = { id };
  const box = $('#ticket-body');
  box.textContent = t('loading');
  try {
    const d = await api(`/api/tickets/${encodeURIComponent(id)}`);
    if (!S.ticket || S.ticket.id !== id) return;
    S.ticket = { id, d };
    renderTicket();
  } catch (e) {
    if (e.status === 401) { showLogin(); return; }
    box.textContent = '';
    showError(e);
  }
}
function renderTicket() {
  const box = $('#ticket-body');
  const d = S.ticket && S.ticket.d;
  if (!d) return;
  const tk = d.ticket || {};
  box.textContent = '';
  const dl = el('dl', { class: 'fields' });
  // an id is shown only when its name is missing
  const named = { community_id: 'community', assignee_id: 'assignee' };
  for (const [k, v] of Object.entries(tk)) {
    if (v != null && typeof v === 'object' && !Array.isArray(v) && !('name' in v)) continue;
    if (named[k] && tk[named[k]]) continue;
    dl.append(el('dt', {}, t(`tk.${k}`, t(`col.${k}`, k))), el('dd', {}, Array.isArray(v) ? v.join(', ') : cell(k, v)));
  }
  const clocks = el('div', { id: 'clocks' });
  table(clocks, ['clock', 'due', 'done_at', 'state'], d.clocks || [], null);
  const tl = el('ol', { id: 'timeline', class: 'timeline' });
  for (const e of d.events || []) {
    tl.append(el('li', { 'data-event-id': e.event_id, 'data-type': e.type },
      el('time', { datetime: e.at }, when(e.at)), ' ',
      el('span', { class: 'ev-type' }, code('type', e.type)), ' ',
      el('span', { class: 'ev-actor' }, txt(e.actor)), ' ',
      el('span', { class: 'ev-detail' }, detailText(e.detail))));
  }
  box.append(el('h2', {}, `${t('ticket')} ${tk.ticket_id ?? S.ticket.id}`), dl,
    el('h3', {}, t('clocks')), clocks, el('h3', {}, t('timeline')), tl);
}

// ---- quarterly report (report.html) ----------------------------------------------------------
const R = { community: '', quarter: '', data: null };
function shiftQuarter(q, n) {
  const m = /^(\d{4})Q([1-4])$/.exec(q);
  if (!m) return q;
  const i = Number(m[1]) * 4 + Number(m[2]) - 1 + n;
  return `${Math.floor(i / 4)}Q${i % 4 + 1}`;
}
function bootReport() {
  const p = new URLSearchParams(location.search);
  R.community = p.get('community') || '';
  R.quarter = (p.get('quarter') || quarterOf(shanghaiDay(new Date()))).toUpperCase();
  $('#quarter').value = R.quarter;
  const go = (q) => {
    const sp = new URLSearchParams({ community: R.community, quarter: q });
    location.search = `?${sp}`;
  };
  $('#quarter-form').addEventListener('submit', (e) => { e.preventDefault(); go($('#quarter').value.trim().toUpperCase()); });
  $('#prev-q').addEventListener('click', () => go(shiftQuarter(R.quarter, -1)));
  $('#next-q').addEventListener('click', () => go(shiftQuarter(R.quarter, 1)));
  $('#print').addEventListener('click', () => window.print());
  if (!R.community) { showError(t('need_community')); return; }
  document.body.dataset.state = 'loading';
  api(`/api/report?${new URLSearchParams({ community: R.community, quarter: R.quarter })}`)
    .then((d) => { R.data = d; renderReport(); document.body.dataset.state = 'ready'; })
    .catch((e) => { showError(e.status === 401 ? `${t('sign_in_first')}: ${e.message}` : e); document.body.dataset.state = 'error'; });
}
function quarterName(q) {
  const m = /^(\d{4})Q([1-4])$/.exec(q || '');
  if (!m) return q || '';
  return S.lang === 'zh' ? `${m[1]}年第${m[2]}季度` : `${m[1]} Q${m[2]}`;
}
// any array of objects → table, object → two-column table, scalar → text
function anyBlock(v, key) {
  const box = el('div');
  if (Array.isArray(v)) {
    const cols = [...new Set(v.flatMap((r) => (r && typeof r === 'object' ? Object.keys(r) : [])))];
    if (cols.length) table(box, cols, v, null);
    else box.append(v.map(txt).join(', '));
  } else if (v && typeof v === 'object') {
    const keyCol = key === 'escalations' ? 'level' : key === 'by_category' ? 'category' : 'name';
    table(box, [keyCol, 'count'], Object.entries(v).map(([k, x]) => ({ [keyCol]: k, count: x })), null);
  } else box.append(txt(v));
  return box;
}
function renderReport() {
  const r = R.data;
  const box = $('#report');
  if (!r) return;
  const name = r.community && typeof r.community === 'object' ? (r.community.name || r.community.id) : (r.community_name || r.community || R.community);
  document.title = `${name} ${quarterName(r.quarter || R.quarter)} ${t('report_title')}`;
  box.textContent = '';
  const kpi = r.kpi || {};
  const cards = el('div', { id: 'headline', class: 'cards' });
  renderHeadline(cards, kpi);
  const counts = ['tickets', 'responded', 'responded_on_time', 'respond_due', 'resolved', 'resolved_on_time',
    'resolve_due', 'rated', 'satisfied', 'overdue_open'].filter((k) => k in kpi);
  const countTable = el('div');
  table(countTable, ['name', 'count'], counts.map((k) => ({ name: t(`col.${k}`, k), count: kpi[k] })), null);
  const formulas = el('ul', { class: 'formulas' },
    ...RATES.map((k) => el('li', {}, `${t(`kpi.${k}`)} = ${formula(k, kpi.formulas)}`)));
  box.append(
    el('h1', {}, `${name} · ${quarterName(r.quarter || R.quarter)}`),
    el('p', { class: 'subtitle' }, S.lang === 'zh' ? `${t('report_title')}（${t('report_sub')}）` : `${t('report_title')} (${t('report_sub')})`),
    el('p', {}, `${t('period')}: ${txt(r.from)} — ${txt(r.to)}`),
    el('h2', {}, t('kpi_figures')), cards, formulas,
    el('h2', {}, t('kpi_counts')), countTable,
    el('h2', {}, t('by_category')), anyBlock(r.by_category || [], 'by_category'),
    el('h2', {}, t('escalations')), anyBlock(r.escalations || [], 'escalations'));
  // anything else the server adds (e.g. accounts for 晒收支) is shown as it comes
  const known = new Set(['community', 'community_name', 'quarter', 'from', 'to', 'kpi', 'by_category', 'escalations']);
  for (const [k, v] of Object.entries(r)) {
    if (!known.has(k)) box.append(el('h2', {}, t(`col.${k}`, k)), anyBlock(v, k));
  }
}

// ---- start ----------------------------------------------------------------------------------
async function boot() {
  applyStatic();
  document.querySelectorAll('.lang-switch').forEach((b) => b.addEventListener('click', switchLang));
  if (document.body.dataset.page === 'report') { bootReport(); return; }
  document.title = t('app_title');
  $('#login-form').addEventListener('submit', onLogin);
  $('#logout').addEventListener('click', onLogout);
  $('#back').addEventListener('click', () => { location.hash = ''; });
  $('#scope').addEventListener('change', loadAll);
  $('#from').addEventListener('change', loadAll);
  $('#to').addEventListener('change', loadAll);
  window.addEventListener('hashchange', () => { if (S.me) route(); });
  window.addEventListener('resize', () => { if (S.chart) S.chart.resize(); });
  try {
    S.me = await api('/api/me');
  } catch (e) {
    if (e.status !== 401) showError(e);
    showLogin();
    return;
  }
  startApp();
}
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
else boot();
})();
