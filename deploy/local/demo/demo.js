// A custom event: the name must be allowed for the site (`--event Inscription`).
document.getElementById('signup').addEventListener('click', function () {
  mesure('Inscription')
})
