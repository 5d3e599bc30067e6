// Mesure's site script: pageviews, single-page navigation, outbound links
// and downloads (opt-in), custom events. No cookie; nothing stored but the
// visitor's opt-out. It answers Plausible's snippet too (data-domain,
// window.plausible, the queue stub). Served minified: scripts/assets.mjs.
(function (w, d) {
  var s = d.currentScript, l = w.location, n = w.navigator, h = w.history
  if (!s) return
  var src = s.src
  function attr(k) { return s.getAttribute('data-' + k) }
  // An option is a data- attribute, or a part of the file name as in
  // Plausible's script.outbound-links.file-downloads.hash.js.
  function has(k, part) { return attr(k) != null || src.indexOf(part) > 0 }
  var api = attr('api') || new URL(src).origin + '/api/event'
  var site = attr('site'), domain = attr('domain') || l.hostname, last
  var hash = has('hash', '.hash.'), outbound = has('outbound', 'outbound-links')
  var downloads = has('downloads', 'file-downloads')
  var exts = (attr('downloads') || 'pdf,odt,ods,odp,doc,docx,xls,xlsx,ppt,pptx,csv,zip').split(',')

  function off() {
    try {
      if (localStorage.mesure_optout == '1') return 1
    } catch (e) {}
    return n.doNotTrack == '1' || n.globalPrivacyControl
  }

  // Plausible's signature: o is {props, callback}.
  function send(name, o) {
    o = o || {}
    if (!off()) {
      var b = { n: name, u: l.href, d: domain, r: d.referrer, w: w.innerWidth, p: o.props }
      if (site) b.s = site
      if (hash) b.h = 1
      b = JSON.stringify(b)
      if (!(n.sendBeacon && n.sendBeacon(api, b))) {
        fetch(api, { method: 'POST', body: b, keepalive: true })['catch'](function () {})
      }
    }
    o.callback && o.callback()
  }

  function page() {
    var key = l.pathname + l.search + (hash ? l.hash : '')
    if (key != last) {
      last = key
      send('pageview')
    }
  }

  function click(e) {
    var a = e.target.closest && e.target.closest('a[href]')
    if (!a || e.type == 'auxclick' && e.button != 1) return
    var file = a.pathname.split('/').pop(), props = { props: { url: a.href } }
    if (downloads && (a.hasAttribute('download') || file.indexOf('.') > 0 && exts.indexOf(file.split('.').pop().toLowerCase()) >= 0)) {
      send('File Download', props)
    } else if (outbound && /^http/.test(a.protocol) && a.host != l.host) {
      send('Outbound Link: Click', props)
    }
  }

  var queue = (w.mesure && w.mesure.q || []).concat(w.plausible && w.plausible.q || [])
  w.mesure = w.plausible = send
  for (var i = 0; i < queue.length; i++) send.apply(0, queue[i])
  d.addEventListener('click', click)
  d.addEventListener('auxclick', click)
  if (attr('manual') != null) return
  if (h.pushState) {
    var push = h.pushState
    h.pushState = function () { push.apply(this, arguments); page() }
    w.addEventListener('popstate', page)
  }
  if (hash) w.addEventListener('hashchange', page)
  // A prerendered page counts when the visitor actually opens it.
  d.prerendering ? d.addEventListener('prerenderingchange', page) : page()
})(window, document)
