# Tableau de bord de Mesure, en français. Chaque clé est aussi dans en.ftl (un test le vérifie).

app-name = Mesure
skip-to-content = Aller au contenu
language = Langue
nav-sites = Sites
nav-overview = Vue d’ensemble
no-script-note = Les graphiques demandent JavaScript ; chaque chiffre est aussi dans les tableaux.

sites-title = Sites
sites-empty = Aucun site n’est encore enregistré. Ajoutez-en un avec « mesure site put ».
sites-trend = Tendance
sites-trend-label = Visiteurs par { $bucket }, du { $from } au { $to } : de { $low } à { $high }
sites-organisation-total = Total de l’organisation ({ $count ->
    [one] un site
   *[other] { $count } sites
})
sites-organisation-note = Les visites et les pages vues s’additionnent d’un site à l’autre ; les visiteurs non : chaque site a ses propres identifiants d’un jour.
sites-no-organisation = Sites sans organisation
sites-open = Ouvrir la vue d’ensemble de { $site }

period = Période
period-day = Aujourd’hui
period-yesterday = Hier
period-7d = 7 derniers jours
period-30d = 30 derniers jours
period-month = Ce mois-ci
period-last-month = Le mois dernier
period-6mo = 6 derniers mois
period-12mo = 12 derniers mois
period-custom = Période libre
period-from = Du
period-to = Au
period-apply = Afficher
period-range = du { $from } au { $to }

compare = Comparaison
compare-off = Sans comparaison
compare-previous = Période précédente
compare-year = Année précédente
compare-against = par rapport au { $from } – { $to }
change-up = en hausse de { $change }
change-down = en baisse de { $change }
change-same = stable
change-new = nouveau

filters = Filtres
filter-remove = Retirer le filtre { $filter }
filter-clear = Retirer tous les filtres
filter-by = N’afficher que { $value }
filter-is = { $dimension } est { $value }
filter-is-not = { $dimension } n’est pas { $value }
filter-contains = { $dimension } contient { $value }
filter-does-not-contain = { $dimension } ne contient pas { $value }

headline = Chiffres clés
chart = Évolution
chart-metric = Indicateur affiché
chart-table = { $metric } par { $bucket }
bucket-time-hour = heure
bucket-time-day = jour
bucket-time-week = semaine
bucket-time-month = mois
chart-date = Date
chart-now = Cette période
chart-then = Période comparée
annotations = Notes
annotations-none = Aucune note sur cette période. Une note marque une date sur le graphique : une campagne, une mise en ligne.
annotation-add = Ajouter une note
annotation-date = Date
annotation-text = Note
annotation-example = Campagne radio
annotation-save = Enregistrer la note
annotation-remove = Supprimer la note « { $text } »
annotation-remove-short = Supprimer
annotation-error-text = Une note doit compter de 1 à 200 caractères, sans retour à la ligne.
annotation-error-date = La date d’une note doit être au format AAAA-MM-JJ et à moins de 800 jours d’aujourd’hui.
annotation-error-full = Ce site a déjà 1 000 notes : supprimez-en avant d’en ajouter.
annotation-error-unknown = Cette note n’existe pas, ou a déjà été supprimée.

panel-pages = Pages
panel-sources = Provenance
panel-locations = Localisation
panel-devices = Équipements
panel-goals = Objectifs
panel-events = Événements personnalisés
panel-outbound = Liens sortants
panel-downloads = Téléchargements
map-label = Carte des visiteurs par pays ; le tableau donne les chiffres.
panel-empty = Rien sur cette période.
panel-hidden = { $rows ->
    [one] Une ligne de moins de { $threshold } visiteurs est masquée.
   *[other] { $rows } lignes de moins de { $threshold } visiteurs sont masquées.
}
panel-details = Détails
panel-csv = Télécharger en CSV
panel-share = Part

details-search = Rechercher
details-sort = Trier par
details-rows = { $rows ->
    [one] Une ligne
   *[other] { $rows } lignes
}
details-back = Retour à la vue d’ensemble

tab-top = Pages les plus vues
tab-entry = Pages d’entrée
tab-exit = Pages de sortie
tab-channel = Canaux
tab-source = Sources
tab-referrer = Sites référents
tab-country = Pays
tab-region = Régions
tab-city = Villes
tab-browser = Navigateurs
tab-os = Systèmes d’exploitation
tab-device = Types d’appareil
tab-versions = Avec les versions

metric-visitors = Visiteurs
metric-visits = Visites
metric-pageviews = Pages vues
metric-views-per-visit = Pages par visite
metric-bounce-rate = Taux de rebond
metric-visit-duration = Durée des visites
metric-events = Événements
metric-percentage = Part
metric-conversion-rate = Taux de conversion

dim-event-page = Page
dim-event-hostname = Nom d’hôte
dim-event-name = Événement
dim-event-outbound-link = Lien sortant
dim-event-file-download = Téléchargement
dim-event-goal = Objectif
dim-visit-entry-page = Page d’entrée
dim-visit-exit-page = Page de sortie
dim-visit-source = Source
dim-visit-referrer = Site référent
dim-visit-channel = Canal
dim-visit-country = Pays
dim-visit-region-name = Région
dim-visit-city-name = Ville
dim-visit-browser = Navigateur
dim-visit-browser-version = Version du navigateur
dim-visit-os = Système d’exploitation
dim-visit-os-version = Version du système
dim-visit-device = Appareil
dim-visit-utm-source = Source de campagne
dim-visit-utm-medium = Support de campagne
dim-visit-utm-campaign = Campagne
dim-visit-utm-content = Contenu de campagne
dim-visit-utm-term = Terme de campagne

value-none = (aucun)
value-direct = Accès direct / aucun
small-count = < { $threshold }

error-title = Cette page ne peut pas être affichée
error-back = Retour aux sites
error-not-found = Ce site ou cette page n’existe pas.
error-sign-in = Connectez-vous pour voir cette page.
error-not-admin = Seuls les administrateurs de ce site peuvent faire cela.
sign-in-title = Connexion
sign-in-intro = Connectez-vous pour voir les statistiques des sites auxquels vous avez accès.
sign-in-email = Adresse électronique
sign-in-password = Mot de passe
sign-in-submit = Se connecter
sign-in-failed = Adresse ou mot de passe incorrect.
sign-in-limited = Trop de tentatives de connexion. Réessayez dans { $minutes } minutes.
link-title = Lien partagé
link-password-intro = Ce lien vers des statistiques est protégé par un mot de passe.
link-open = Ouvrir
link-password-wrong = Mot de passe incorrect.
sign-out = Se déconnecter
signed-in-as = Connecté : { $email }
error-bad-view = Ce lien contient un réglage inconnu du tableau de bord : { $reason }
error-unavailable = Les chiffres ne peuvent pas être lus pour le moment. Réessayez dans un instant.
error-cross-origin = Ce formulaire ne vient pas d’une page de ce tableau de bord : rien n’a été enregistré.

mode-exempt = Mesure exemptée de consentement : les effectifs de moins de { $threshold } sont masqués.
mode-consent = Mode avec consentement : les campagnes sont mesurées.
source-note = Réponse tirée de { $source }.

realtime = Temps réel
realtime-title = { $site } – temps réel
realtime-5m = Visiteurs ces 5 dernières minutes
realtime-30m = Visiteurs ces 30 dernières minutes
realtime-pages = Pages lues ces 30 dernières minutes
realtime-sources = Provenance ces 30 dernières minutes
realtime-rounded = Les effectifs sont arrondis à la dizaine : personne ne peut suivre la navigation d’une personne.
realtime-refresh = Actualiser
realtime-live = Actualisé toutes les 10 secondes.

audit-title = Journal d’audit
audit-intro = Qui s’est connecté, a modifié un réglage, a créé ou utilisé un jeton ou un lien de partage, ou a exporté des chiffres : quand, sur quel site, depuis quel réseau (adresses tronquées).
audit-site = Site
audit-all = Tous
audit-action = Action
audit-show = Afficher
audit-csv = Télécharger en CSV
audit-empty = Rien n’a été enregistré sur cette période.
audit-caption = { $count ->
    [one] Une entrée, la plus récente d’abord
   *[other] { $count } entrées, les plus récentes d’abord
}
audit-when = Quand (UTC)
audit-who = Qui
audit-address = Réseau
audit-detail = Détail
audit-more = Seules les { $count } entrées les plus récentes sont affichées : réduisez la période, ou téléchargez le CSV.
audit-kept = Les entrées sont conservées 12 mois. Les heures sont en UTC.
audit-sign-in = Connexion
audit-sign-in-refused = Connexion refusée
audit-sign-out = Déconnexion
audit-site-added = Site ajouté
audit-site-changed = Réglages modifiés
audit-mode-changed = Mode modifié
audit-site-removed = Site retiré
audit-goal-saved = Objectif enregistré
audit-goal-removed = Objectif retiré
audit-note-added = Note ajoutée
audit-note-removed = Note retirée
audit-token-created = Jeton d’API créé
audit-token-revoked = Jeton d’API révoqué
audit-token-used = Jeton d’API utilisé
audit-link-created = Lien de partage créé
audit-link-revoked = Lien de partage révoqué
audit-link-used = Lien de partage ouvert
audit-export = Export
audit-user-added = Compte ajouté
audit-user-changed = Compte modifié
audit-role-granted = Rôle attribué
audit-role-revoked = Rôle retiré
audit-invited = Invitation créée
audit-invitation-accepted = Invitation acceptée
nav-audit = Journal d’audit
error-not-superuser = Seuls les super-administrateurs de l’instance peuvent faire cela.
nav-settings = Réglages
nav-new-site = Ajouter un site
settings-title = { $site } – réglages
settings-new-title = Ajouter un site
settings-back = Retour aux statistiques
settings-saved = Enregistré. Les collecteurs appliquent le changement à leur prochain rechargement (10 secondes par défaut).
settings-id = Identifiant du site
settings-id-help = Lettres minuscules, chiffres, « - », « _ » ou « . » ; il ne peut plus changer ensuite.
settings-hosts = Hôtes
settings-hosts-help = Un par ligne : les hôtes dont les pages envoient des visites. « *.exemple.fr » couvre aussi ses sous-domaines.
settings-mode = Mode
settings-mode-exempt = Exempté de consentement (recommandé) : pas de paramètres de campagne, une courte liste d’événements sans propriétés ; pas de bandeau de consentement.
settings-mode-consent = Consentement : le site recueille lui-même le consentement de ses visiteurs ; campagnes et propriétés d’événements sont conservées.
settings-time-zone = Fuseau horaire des rapports
settings-params = Paramètres conservés dans l’adresse des pages
settings-params-help = Un par ligne. Tout autre paramètre est retiré avant tout enregistrement ; les paramètres de campagne (utm_…) demandent le mode consentement.
settings-events = Événements personnalisés acceptés
settings-events-help = Un nom par ligne. En mode exempté, seuls ceux-ci sont acceptés (30 au plus).
settings-city = Enregistrer la ville (sinon pays et région seulement)
settings-matomo = Identifiant de site Matomo
settings-matomo-help = L’idsite que vos traqueurs Matomo envoient pour ce site, s’il y en a un.
settings-organisation = Organisation
settings-organisation-help = Seul un super-administrateur change l’organisation d’un site.
settings-save = Enregistrer les réglages
settings-add = Ajouter le site
site-error-id = « { $value } » ne peut pas être un identifiant de site : 1 à 64 lettres minuscules, chiffres, « - », « _ » ou « . ».
site-error-exists = Un site « { $value } » existe déjà.
site-error-no-host = Un site a besoin d’au moins un hôte.
site-error-host = « { $value } » n’est pas un hôte : écrivez-le comme exemple.fr ou *.exemple.fr, sans protocole ni port.
site-error-param = « { $value } » ne peut pas être un paramètre d’adresse.
site-error-campaign = « { $value } » identifie des campagnes : il ne peut être conservé qu’en mode consentement.
site-error-event = « { $value } » ne peut pas être un nom d’événement : 1 à 64 caractères imprimables.
site-error-events = Un site exempté accepte au plus 30 noms d’événements.
site-error-organisation = « { $value } » ne peut pas être un nom d’organisation : 120 caractères imprimables au plus.
site-error-time-zone = « { $value } » n’est pas un fuseau horaire connu.
site-error-matomo = « { $value } » n’est pas un identifiant de site Matomo : un nombre entier de 0 à 4294967295.
site-error-entries = Une liste contient au plus { $value } entrées.
goals-title = Objectifs
goals-none = Pas encore d’objectif. Un objectif compte les visites qui atteignent une page ou envoient un événement.
goal-name = Nom
goal-target = Page ou événement
goal-is-page = page { $target }
goal-is-event = événement { $target }
goal-remove = Retirer l’objectif « { $name } »
goal-remove-short = Retirer
goal-add = Ajouter un objectif
goal-kind = L’objectif est atteint par
goal-kind-page = une page vue : un chemin, « * » dans un segment, « ** » sur plusieurs
goal-kind-event = un événement personnalisé : son nom
goal-save = Enregistrer l’objectif
goal-error-name = « { $value } » ne peut pas être un nom d’objectif : 1 à 120 caractères imprimables.
goal-error-page = « { $value } » n’est pas un motif de page : un chemin commençant par « / ».
goal-error-event = « { $value } » ne peut pas être un nom d’événement : 1 à 120 caractères imprimables.
goal-error-target = Indiquez un motif de page ou un nom d’événement.
goal-error-full = Un site a au plus { $value } objectifs.
goal-error-unknown = Cet objectif n’existe pas, ou a déjà été retiré.
