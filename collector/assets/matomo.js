// Mesure's stand-in for Matomo's matomo.js / piwik.js: it runs the _paq
// command queue of Matomo's snippet and sends Matomo's tracking requests to
// the tracker URL, so a site keeps its snippet and changes only the host.
// No cookie and no visitor id: identity commands are accepted and ignored.
(function (w, d) {
  var n = w.navigator, l = w.location
  var trackerUrl = '', siteId = '', customUrl = '', referrer = d.referrer
  var consent = true, linkTracking = false
  var exts = 'pdf,odt,ods,odp,doc,docx,xls,xlsx,ppt,pptx,csv,txt,rtf,zip,gz,7z,rar,epub,mp3,mp4,mov,avi,wav'.split(',')

  function optedOut() {
    try {
      if (localStorage.getItem('mesure_optout') == '1') return true
    } catch (e) {}
    return n.doNotTrack == '1' || !!n.globalPrivacyControl
  }

  function absolute(url) {
    try { return new URL(url, l.href).href } catch (e) { return url }
  }

  function send(params) {
    if (!trackerUrl || !siteId || !consent || optedOut()) return
    params.idsite = siteId
    params.rec = 1
    params.url = customUrl || l.href
    if (referrer) params.urlref = referrer
    params.res = screen.width + 'x' + screen.height
    params.send_image = 0
    // Unset arguments (undefined, NaN, '') are left out, as Matomo does.
    var body = Object.keys(params).filter(function (k) { var v = params[k]; return v != null && v === v && v !== '' })
      .map(function (k) { return encodeURIComponent(k) + '=' + encodeURIComponent(params[k]) }).join('&')
    var type = 'application/x-www-form-urlencoded; charset=UTF-8'
    if (!(n.sendBeacon && n.sendBeacon(trackerUrl, new Blob([body], { type: type })))) {
      fetch(trackerUrl, { method: 'POST', body: body, headers: { 'Content-Type': type }, keepalive: true })['catch'](function () {})
    }
  }

  function click(e) {
    var a = e.target.closest && e.target.closest('a[href]')
    if (!a || e.type == 'auxclick' && e.button != 1 || !/^http/.test(a.protocol)) return
    var file = a.pathname.split('/').pop()
    var cls = ' ' + a.className + ' '
    if (/ (matomo|piwik)_ignore /.test(cls)) return
    if (/ (matomo|piwik)_download /.test(cls) || a.hasAttribute('download') ||
        file.indexOf('.') > 0 && exts.indexOf(file.split('.').pop().toLowerCase()) >= 0) {
      send({ download: a.href })
    } else if (a.host != l.host || / (matomo|piwik)_link /.test(cls)) {
      send({ link: a.href })
    }
  }

  var tracker = {
    setTrackerUrl: function (url) { trackerUrl = absolute(url) },
    getTrackerUrl: function () { return trackerUrl },
    setSiteId: function (id) { siteId = String(id) },
    getSiteId: function () { return siteId },
    setCustomUrl: function (url) { customUrl = absolute(url) },
    getCurrentUrl: function () { return customUrl || l.href },
    setReferrerUrl: function (url) { referrer = url },
    trackPageView: function () { send({}) },
    trackEvent: function (category, action, name, value) {
      send({ e_c: category, e_a: action, e_n: name, e_v: value })
    },
    trackLink: function (url, type) {
      send(type == 'download' ? { download: absolute(url) } : { link: absolute(url) })
    },
    enableLinkTracking: function () {
      if (linkTracking) return
      linkTracking = true
      d.addEventListener('click', click, true)
      d.addEventListener('auxclick', click, true)
    },
    setDownloadExtensions: function (list) { exts = typeof list == 'string' ? list.split('|') : list },
    addDownloadExtensions: function (list) { exts = exts.concat(typeof list == 'string' ? list.split('|') : list) },
    requireConsent: function () { consent = false },
    setConsentGiven: function () { consent = true },
    rememberConsentGiven: function () { consent = true },
    forgetConsentGiven: function () { consent = false },
    hasConsent: function () { return consent },
    optUserOut: function () {
      try { localStorage.setItem('mesure_optout', '1') } catch (e) {}
    },
    forgetUserOptOut: function () {
      try { localStorage.removeItem('mesure_optout') } catch (e) {}
    },
    isUserOptedOut: optedOut,
    // Matomo stores no cookie here either.
    hasCookies: function () { return false }
  }
  // Any other command (setUserId, disableCookies, enableHeartBeatTimer,
  // setCustomDimension...) is accepted and does nothing.
  var api = typeof Proxy == 'function'
    ? new Proxy(tracker, { get: function (t, k) { return k in t ? t[k] : function () {} } })
    : tracker

  function apply(command) {
    if (typeof command == 'function') return command.call(api)
    if (!command || !command.length) return
    var name = command[0]
    if (typeof name == 'function') return name.apply(api, command.slice(1))
    var f = api[name]
    if (typeof f == 'function') f.apply(api, command.slice(1))
  }

  // As Matomo does: configuration first, whatever its place in the queue.
  var first = /^(setTrackerUrl|setSiteId|requireConsent|setConsentGiven|rememberConsentGiven|enableLinkTracking|disableCookies|setDownloadExtensions|addDownloadExtensions)$/
  var queue = w._paq || []
  var later = []
  for (var i = 0; i < queue.length; i++) {
    if (queue[i] && first.test(queue[i][0])) apply(queue[i])
    else later.push(queue[i])
  }
  for (var j = 0; j < later.length; j++) apply(later[j])
  w._paq = { push: function () { for (var i = 0; i < arguments.length; i++) apply(arguments[i]) } }
  var matomo = {
    getTracker: function (url, id) {
      if (url) trackerUrl = absolute(url)
      if (id) siteId = String(id)
      return api
    },
    getAsyncTracker: function () { return api },
    addTracker: function () { return api }
  }
  w.Matomo = w.Piwik = typeof Proxy == 'function'
    ? new Proxy(matomo, { get: function (t, k) { return k in t ? t[k] : function () {} } })
    : matomo
})(window, document)
