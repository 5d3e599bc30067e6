// The opt-out form a site embeds in its privacy policy:
//   <div id="mesure-optout"></div>
//   <script src="https://stats.example.fr/optout.js" defer></script>
// It stores the refusal in this site's own storage, where the site script
// reads it; language from data-lang, else the page's lang (fr or en).
(function (d) {
  var s = d.currentScript
  var box = d.getElementById((s && s.getAttribute('data-target')) || 'mesure-optout')
  if (!box) return
  var lang = ((s && s.getAttribute('data-lang')) || d.documentElement.lang || 'fr').slice(0, 2) == 'en' ? 'en' : 'fr'
  var text = {
    fr: {
      on: 'Vos visites sur ce site sont mesurées de façon anonyme, sans cookie, pour en améliorer les contenus. Vous pouvez vous y opposer.',
      off: 'Vos visites sur ce site ne sont plus mesurées. Vous pouvez à tout moment revenir sur ce choix.',
      box: 'Mes visites sont mesurées (décochez pour vous y opposer)',
      blocked: 'Votre navigateur demande à ne pas être suivi (Do Not Track ou Global Privacy Control) : vos visites ne sont pas mesurées.'
    },
    en: {
      on: 'Your visits to this site are measured anonymously, without cookies, to improve its content. You may refuse.',
      off: 'Your visits to this site are no longer measured. You may change your mind at any time.',
      box: 'My visits are measured (untick to refuse)',
      blocked: 'Your browser asks not to be tracked (Do Not Track or Global Privacy Control): your visits are not measured.'
    }
  }[lang]
  var n = navigator
  var p = d.createElement('p')
  box.appendChild(p)
  if (n.doNotTrack == '1' || n.globalPrivacyControl) {
    p.textContent = text.blocked
    return
  }
  var label = d.createElement('label')
  var input = d.createElement('input')
  input.type = 'checkbox'
  input.id = 'mesure-optout-box'
  label.appendChild(input)
  label.appendChild(d.createTextNode(' ' + text.box))
  box.appendChild(label)
  function refused() {
    try { return localStorage.getItem('mesure_optout') == '1' } catch (e) { return false }
  }
  function show() {
    input.checked = !refused()
    p.textContent = input.checked ? text.on : text.off
  }
  input.addEventListener('change', function () {
    try {
      if (input.checked) localStorage.removeItem('mesure_optout')
      else localStorage.setItem('mesure_optout', '1')
    } catch (e) {}
    show()
  })
  show()
})(document)
