//! The accounts store on both engines it supports: a SQLite file and a real
//! PostgreSQL server (Debian's, started by `make test`). Every scenario runs
//! on each, with the same statements.

use mesure_accounts::users::AccountError;
use mesure_accounts::{Engine, Role, Store, StoreError};
use mesure_testkit::postgres::LocalPostgres;

/// A fresh, migrated store on each engine.
async fn stores(name: &str) -> Vec<Store> {
    let dir = std::env::temp_dir().join(mesure_testkit::LocalClickHouse::unique_database(name));
    std::fs::create_dir_all(&dir).expect("temporary folder");
    let sqlite = format!("sqlite://{}", dir.join("accounts.sqlite").display());
    let postgres = LocalPostgres::shared().database(name);
    let mut stores = Vec::new();
    for url in [sqlite, postgres] {
        let store = Store::open(&url)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(store.migrate().await.expect("migrate"), [1, 2, 3, 4, 5, 6]);
        stores.push(store);
    }
    assert_eq!(stores[0].engine(), Engine::Sqlite);
    assert_eq!(stores[1].engine(), Engine::Postgres);
    stores
}

#[tokio::test]
async fn migrations_apply_once_and_a_changed_or_newer_one_is_refused() {
    for store in stores("accounts_migrations").await {
        let engine = store.engine();
        assert!(
            store.migrate().await.expect("again").is_empty(),
            "{engine:?}"
        );
        sqlx::query("UPDATE accounts_migrations SET checksum = 'changed' WHERE version = 1")
            .execute(store.pool())
            .await
            .expect("tamper");
        assert!(
            matches!(store.migrate().await, Err(StoreError::Changed(1))),
            "{engine:?}"
        );
        sqlx::query("INSERT INTO accounts_migrations (version, name, checksum, applied_at) VALUES (99, 'future', 'x', 0)")
            .execute(store.pool())
            .await
            .expect("future");
        assert!(
            matches!(store.migrate().await, Err(StoreError::Newer(99, 6))),
            "{engine:?}"
        );
    }
}

#[tokio::test]
async fn users_sign_in_with_their_password_only() {
    for store in stores("accounts_users").await {
        let engine = store.engine();
        let ana = store
            .add_user(
                " Ana@Mairie.fr ",
                "Ana",
                Some("a long enough secret"),
                false,
            )
            .await
            .expect("added");
        assert_eq!(ana.email, "ana@mairie.fr");
        assert!(!ana.superuser);
        // One account per address, whatever its case.
        assert!(matches!(
            store.add_user("ANA@mairie.fr", "", None, false).await,
            Err(AccountError::Exists(_))
        ));
        assert!(matches!(
            store
                .add_user("bob@mairie.fr", "", Some("short"), false)
                .await,
            Err(AccountError::Password(_))
        ));
        let root = store
            .add_user("root@mairie.fr", "", Some("another long secret"), true)
            .await
            .expect("root");
        assert!(root.superuser);

        let signed = store
            .authenticate("ana@MAIRIE.fr", "a long enough secret")
            .await
            .expect("auth");
        assert_eq!(
            signed.as_ref().map(|u| u.id.as_str()),
            Some(ana.id.as_str()),
            "{engine:?}"
        );
        for (email, password) in [
            ("ana@mairie.fr", "a long enough secreT"),
            ("nobody@mairie.fr", "a long enough secret"),
            ("not an address", "a long enough secret"),
            ("ana@mairie.fr", ""),
        ] {
            assert_eq!(
                store.authenticate(email, password).await.expect("auth"),
                None,
                "{email}"
            );
        }
        store
            .set_password("ana@mairie.fr", "a brand new secret")
            .await
            .expect("changed");
        assert!(
            store
                .authenticate("ana@mairie.fr", "a long enough secret")
                .await
                .expect("old")
                .is_none()
        );
        assert!(
            store
                .authenticate("ana@mairie.fr", "a brand new secret")
                .await
                .expect("new")
                .is_some()
        );
        // A disabled account cannot sign in, and sees nothing.
        store
            .set_disabled("ana@mairie.fr", true)
            .await
            .expect("disabled");
        assert!(
            store
                .authenticate("ana@mairie.fr", "a brand new secret")
                .await
                .expect("auth")
                .is_none()
        );
        let disabled = store
            .user_by_id(&ana.id)
            .await
            .expect("read")
            .expect("exists");
        assert!(disabled.disabled);
        assert_eq!(
            store
                .access(&disabled)
                .await
                .expect("access")
                .role_on("x", ""),
            None
        );
        assert!(matches!(
            store
                .set_password("nobody@mairie.fr", "a long enough secret")
                .await,
            Err(AccountError::Unknown(_))
        ));
        let emails: Vec<String> = store
            .users()
            .await
            .expect("list")
            .into_iter()
            .map(|u| u.email)
            .collect();
        assert_eq!(emails, ["ana@mairie.fr", "root@mairie.fr"]);
    }
}

#[tokio::test]
async fn roles_come_from_sites_and_organisations() {
    for store in stores("accounts_roles").await {
        let engine = store.engine();
        let user = store
            .add_user("viewer@mairie.fr", "", None, false)
            .await
            .expect("user");
        store
            .grant_site(&user.id, "site-a", Role::Viewer)
            .await
            .expect("grant");
        store
            .grant_organisation(&user.id, "Ville de Démo", Role::Admin)
            .await
            .expect("grant");
        let access = store.access(&user).await.expect("access");
        assert_eq!(
            access.role_on("site-a", ""),
            Some(Role::Viewer),
            "{engine:?}"
        );
        assert_eq!(access.role_on("site-b", "Ville de Démo"), Some(Role::Admin));
        assert_eq!(access.role_on("site-b", ""), None);
        // Granted again: replaced, not added.
        store
            .grant_site(&user.id, "site-a", Role::Admin)
            .await
            .expect("upgrade");
        assert_eq!(
            store
                .access(&user)
                .await
                .expect("access")
                .role_on("site-a", ""),
            Some(Role::Admin)
        );
        store.revoke_site(&user.id, "site-a").await.expect("revoke");
        store
            .revoke_organisation(&user.id, "Ville de Démo")
            .await
            .expect("revoke");
        assert_eq!(
            store.access(&user).await.expect("access"),
            Default::default()
        );
        // A role for nobody is refused by the store itself.
        assert!(
            store
                .grant_site("no-such-user", "site-a", Role::Viewer)
                .await
                .is_err(),
            "{engine:?}"
        );
    }
}

#[tokio::test]
async fn hostile_values_are_stored_as_text_never_run() {
    for store in stores("accounts_hostile").await {
        let engine = store.engine();
        let name = "Robert'); DROP TABLE users; --";
        let user = store
            .add_user("o'brien@mairie.fr", name, None, false)
            .await
            .expect("user");
        assert_eq!(user.name, name);
        assert_eq!(user.email, "o'brien@mairie.fr");
        for site in [
            "x' OR '1'='1",
            "a\"; DELETE FROM site_roles; --",
            "<script>alert(1)</script>",
        ] {
            store
                .grant_site(&user.id, site, Role::Viewer)
                .await
                .expect("grant");
        }
        let access = store.access(&user).await.expect("access");
        assert_eq!(access.sites.len(), 3, "{engine:?}");
        assert_eq!(access.role_on("x' OR '1'='1", ""), Some(Role::Viewer));
        assert_eq!(access.role_on("x", ""), None);
        assert_eq!(store.users().await.expect("users").len(), 1);
        assert!(matches!(
            store
                .add_user("a@b.fr'; DROP TABLE users; --", "", None, false)
                .await,
            Err(AccountError::Email(_))
        ));
        assert!(matches!(
            store.grant_site(&user.id, "a\u{0}b", Role::Viewer).await,
            Err(AccountError::Target(_))
        ));
    }
}

#[tokio::test]
async fn sessions_end_when_idle_at_their_age_or_when_closed() {
    let config = mesure_accounts::AccountsConfig::default();
    let policy = mesure_accounts::sessions::Policy::of(&config);
    let minute = 60_000;
    for store in stores("accounts_sessions").await {
        let engine = store.engine();
        let user = store
            .add_user("ana@mairie.fr", "", Some("a long enough secret"), false)
            .await
            .expect("user");
        let start = mesure_accounts::now_ms();
        let opened = store.open_session(&user, start).await.expect("open");
        assert_eq!(opened.secret.len(), 64);
        let live = store
            .session(&opened.secret, start + minute, policy)
            .await
            .expect("read");
        assert_eq!(
            live.map(|s| (s.user.id, s.csrf)),
            Some((user.id.clone(), opened.csrf.clone())),
            "{engine:?}"
        );
        // Only its hash is stored.
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE id_hash = $1")
            .bind(&opened.secret)
            .fetch_one(store.pool())
            .await
            .expect("count");
        assert_eq!(stored, 0);
        for bad in ["", "nope", &"0".repeat(64), &opened.secret.to_uppercase()] {
            assert!(
                store
                    .session(bad, start, policy)
                    .await
                    .expect("read")
                    .is_none(),
                "{bad}"
            );
        }

        // Used every 50 minutes, it lives until its maximum age.
        let mut at = start;
        while at + 50 * minute < start + policy.max_ms {
            at += 50 * minute;
            assert!(
                store
                    .session(&opened.secret, at, policy)
                    .await
                    .expect("read")
                    .is_some(),
                "{engine:?} {at}"
            );
        }
        assert!(
            store
                .session(&opened.secret, start + policy.max_ms + 1, policy)
                .await
                .expect("read")
                .is_none()
        );
        // Ended: gone for good, even at an earlier instant.
        assert!(
            store
                .session(&opened.secret, start, policy)
                .await
                .expect("read")
                .is_none()
        );

        // Unused longer than the idle time: ended.
        let idle = store.open_session(&user, start).await.expect("open");
        assert!(
            store
                .session(&idle.secret, start + policy.idle_ms + minute, policy)
                .await
                .expect("read")
                .is_none()
        );

        // Closed by signing out, by a new password, by disabling the account.
        let closed = store.open_session(&user, start).await.expect("open");
        store.close_session(&closed.secret).await.expect("close");
        assert!(
            store
                .session(&closed.secret, start, policy)
                .await
                .expect("read")
                .is_none()
        );
        let other = store.open_session(&user, start).await.expect("open");
        store
            .set_password("ana@mairie.fr", "a brand new secret")
            .await
            .expect("password");
        assert!(
            store
                .session(&other.secret, start, policy)
                .await
                .expect("read")
                .is_none()
        );
        let last = store.open_session(&user, start).await.expect("open");
        store
            .set_disabled("ana@mairie.fr", true)
            .await
            .expect("disable");
        assert!(
            store
                .session(&last.secret, start, policy)
                .await
                .expect("read")
                .is_none()
        );
        store
            .sweep(start + policy.max_ms * 2, policy)
            .await
            .expect("sweep");
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
            .fetch_one(store.pool())
            .await
            .expect("count");
        assert_eq!(left, 0, "{engine:?}");
    }
}

#[tokio::test]
async fn failed_sign_ins_are_limited_per_account_and_per_address() {
    let config = mesure_accounts::AccountsConfig::default();
    let policy = mesure_accounts::sessions::Policy::of(&config);
    for store in stores("accounts_failures").await {
        let engine = store.engine();
        let now = mesure_accounts::now_ms();
        for _ in 0..policy.failures_per_account {
            assert!(
                store
                    .may_sign_in("ana@mairie.fr", "192.0.2.0", now, policy)
                    .await
                    .expect("may")
            );
            store
                .sign_in_failed("ana@mairie.fr", "192.0.2.0", now)
                .await
                .expect("count");
        }
        // The account is locked from anywhere, for the window only.
        assert!(
            !store
                .may_sign_in("ANA@mairie.fr", "198.51.100.0", now, policy)
                .await
                .expect("may"),
            "{engine:?}"
        );
        assert!(
            store
                .may_sign_in(
                    "ana@mairie.fr",
                    "198.51.100.0",
                    now + policy.window_ms + 1,
                    policy
                )
                .await
                .expect("may")
        );
        // Other accounts from the same address, until the address's limit.
        let mut tried = policy.failures_per_account;
        while tried < policy.failures_per_address {
            let email = format!("user{tried}@mairie.fr");
            assert!(
                store
                    .may_sign_in(&email, "192.0.2.0", now, policy)
                    .await
                    .expect("may")
            );
            store
                .sign_in_failed(&email, "192.0.2.0", now)
                .await
                .expect("count");
            tried += 1;
        }
        assert!(
            !store
                .may_sign_in("new@mairie.fr", "192.0.2.0", now, policy)
                .await
                .expect("may")
        );
        assert!(
            store
                .may_sign_in("new@mairie.fr", "203.0.113.0", now, policy)
                .await
                .expect("may")
        );
        store
            .sweep(now + policy.window_ms + 1, policy)
            .await
            .expect("sweep");
        assert!(
            store
                .may_sign_in("new@mairie.fr", "192.0.2.0", now, policy)
                .await
                .expect("may")
        );
    }
}

#[tokio::test]
async fn api_tokens_are_shown_once_read_their_sites_and_end_when_revoked() {
    for store in stores("accounts_tokens").await {
        let engine = store.engine();
        let user = store
            .add_user("dev@mairie.fr", "", None, false)
            .await
            .expect("user");
        let now = mesure_accounts::now_ms();
        let sites = vec!["paris".to_owned(), "lyon".to_owned()];
        let (token, secret) = store
            .add_token(&user, " Grafana ", &sites, now)
            .await
            .expect("token");
        assert!(
            secret.starts_with("mesure_") && secret.len() == 71,
            "{secret}"
        );
        assert_eq!(token.name, "Grafana");
        assert_eq!(token.sites, ["lyon", "paris"]);
        assert_eq!(token.last_used_at, None);
        // Only its hash is stored.
        let clear: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM api_tokens WHERE hash = $1 OR id = $1")
                .bind(&secret)
                .fetch_one(store.pool())
                .await
                .expect("count");
        assert_eq!(clear, 0, "{engine:?}");

        let presented = store
            .presented(&secret, now + 1)
            .await
            .expect("read")
            .expect("live");
        assert_eq!(
            (presented.user.id.as_str(), presented.sites.len()),
            (user.id.as_str(), 2)
        );
        let listed = store.tokens_of(&user.id).await.expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].last_used_at, Some(now + 1), "{engine:?}");
        for bad in [
            "",
            "mesure_",
            "Bearer x",
            &secret[..70],
            &secret.replace("mesure_", "other_"),
            &format!("{secret}0"),
        ] {
            assert!(
                store.presented(bad, now).await.expect("read").is_none(),
                "{bad}"
            );
        }
        for (name, sites) in [
            ("", sites.clone()),
            ("ok", Vec::new()),
            ("ok", vec!["a\u{0}".to_owned()]),
        ] {
            assert!(
                matches!(
                    store.add_token(&user, name, &sites, now).await,
                    Err(AccountError::Target(_))
                ),
                "{name:?} {sites:?}"
            );
        }

        // A disabled maker's tokens read nothing; enabled again, they do.
        store
            .set_disabled("dev@mairie.fr", true)
            .await
            .expect("disable");
        assert!(store.presented(&secret, now).await.expect("read").is_none());
        store
            .set_disabled("dev@mairie.fr", false)
            .await
            .expect("enable");
        assert!(store.presented(&secret, now).await.expect("read").is_some());
        // Revoked: for good.
        store
            .revoke_token(&token.id, now + 2)
            .await
            .expect("revoke");
        assert!(
            store
                .presented(&secret, now + 3)
                .await
                .expect("read")
                .is_none()
        );
        assert!(
            store
                .token(&token.id)
                .await
                .expect("read")
                .expect("kept")
                .revoked
        );
        assert!(matches!(
            store.revoke_token(&token.id, now).await,
            Err(AccountError::Unknown(_))
        ));
    }
}

#[tokio::test]
async fn shared_links_open_with_their_password_until_they_expire_or_are_revoked() {
    for store in stores("accounts_links").await {
        let engine = store.engine();
        let user = store
            .add_user("admin@mairie.fr", "", None, false)
            .await
            .expect("user");
        let now = mesure_accounts::now_ms();
        let hour = 3_600_000;
        let (open, open_secret) = store
            .add_link(&user, "paris", "Conseil municipal", None, None, now)
            .await
            .expect("link");
        assert!(!open.locked && open.opens(""));
        let (locked, locked_secret) = store
            .add_link(
                &user,
                "paris",
                "Presse",
                Some("a long enough secret"),
                Some(now + hour),
                now,
            )
            .await
            .expect("link");
        assert!(locked.locked);
        assert!(locked.opens("a long enough secret") && !locked.opens("wrong password here"));
        assert_ne!(
            locked.unlock_value(&locked_secret),
            open.unlock_value(&open_secret)
        );

        let (found, maker) = store
            .shared(&open_secret, now)
            .await
            .expect("read")
            .expect("live");
        assert_eq!(
            (found.id.as_str(), maker.id.as_str()),
            (open.id.as_str(), user.id.as_str()),
            "{engine:?}"
        );
        // Only its hash is stored.
        let clear: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM shared_links WHERE hash = $1")
            .bind(&open_secret)
            .fetch_one(store.pool())
            .await
            .expect("count");
        assert_eq!(clear, 0);
        for bad in ["", "x", &"0".repeat(64), &open_secret[..63]] {
            assert!(
                store.shared(bad, now).await.expect("read").is_none(),
                "{bad}"
            );
        }
        // Expired: gone at its hour.
        assert!(
            store
                .shared(&locked_secret, now + hour - 1)
                .await
                .expect("read")
                .is_some()
        );
        assert!(
            store
                .shared(&locked_secret, now + hour)
                .await
                .expect("read")
                .is_none(),
            "{engine:?}"
        );
        // Its maker disabled, or the link revoked: gone.
        store
            .set_disabled("admin@mairie.fr", true)
            .await
            .expect("disable");
        assert!(
            store
                .shared(&open_secret, now)
                .await
                .expect("read")
                .is_none()
        );
        store
            .set_disabled("admin@mairie.fr", false)
            .await
            .expect("enable");
        store.revoke_link(&open.id, now).await.expect("revoke");
        assert!(
            store
                .shared(&open_secret, now)
                .await
                .expect("read")
                .is_none()
        );
        let listed = store.links_of_site("paris").await.expect("list");
        assert_eq!(listed.len(), 2);
        assert!(listed.iter().any(|l| l.revoked && l.last_used_at.is_some()));
        assert!(matches!(
            store.add_link(&user, "paris", "", None, None, now).await,
            Err(AccountError::Target(_))
        ));
        assert!(matches!(
            store
                .add_link(&user, "paris", "x", Some("short"), None, now)
                .await,
            Err(AccountError::Password(_))
        ));
    }
}

#[tokio::test]
async fn an_invitation_opens_once_until_it_expires_or_is_revoked() {
    use mesure_accounts::invitations::VALID_MS;
    for store in stores("accounts_invitations").await {
        let engine = store.engine();
        let now = 1_000_000;
        let admin = store
            .add_user("admin@ville.fr", "", None, false)
            .await
            .expect("admin");
        let (invitation, secret) = store
            .invite(&admin, " Bea@Ville.FR ", ("ville", Role::Viewer), now)
            .await
            .expect("invite");
        assert_eq!(invitation.email, "bea@ville.fr", "{engine:?}");
        assert_eq!(secret.len(), 64);
        assert_eq!(
            store.invitations_of_site("ville").await.expect("list"),
            std::slice::from_ref(&invitation)
        );
        // Someone with an account is given a role, not an invitation.
        assert!(matches!(
            store
                .invite(&admin, "admin@ville.fr", ("ville", Role::Viewer), now)
                .await,
            Err(AccountError::Exists(_))
        ));
        // A short password leaves the invitation usable.
        assert!(store.accept(&secret, ("Béa", "short"), now).await.is_err());
        let (bea, used) = store
            .accept(&secret, ("Béa", "a long enough secret"), now + 1)
            .await
            .expect("accept")
            .expect("live");
        assert_eq!(used.id, invitation.id);
        assert_eq!(
            (bea.email.as_str(), bea.name.as_str()),
            ("bea@ville.fr", "Béa")
        );
        assert_eq!(
            store
                .access(&bea)
                .await
                .expect("access")
                .role_on("ville", ""),
            Some(Role::Viewer)
        );
        assert!(
            store
                .authenticate("bea@ville.fr", "a long enough secret")
                .await
                .expect("auth")
                .is_some()
        );
        // Once only.
        assert!(
            store
                .accept(&secret, ("x", "another long secret"), now + 2)
                .await
                .expect("second")
                .is_none(),
            "{engine:?}"
        );
        assert!(
            store
                .invitation(&secret, now + 2)
                .await
                .expect("read")
                .is_none()
        );
        // Expired, revoked, unknown, malformed: nothing.
        let (_, late) = store
            .invite(&admin, "late@ville.fr", ("ville", Role::Admin), now)
            .await
            .expect("invite");
        assert!(
            store
                .accept(&late, ("", "a long enough secret"), now + VALID_MS)
                .await
                .expect("late")
                .is_none()
        );
        let (revoked, gone) = store
            .invite(&admin, "gone@ville.fr", ("ville", Role::Admin), now)
            .await
            .expect("invite");
        store
            .revoke_invitation(&revoked.id, now)
            .await
            .expect("revoke");
        assert!(
            store
                .accept(&gone, ("", "a long enough secret"), now + 1)
                .await
                .expect("revoked")
                .is_none()
        );
        for bad in [
            "0".repeat(64),
            "'; DROP TABLE users; --".to_owned(),
            String::new(),
        ] {
            assert!(store.invitation(&bad, now).await.expect("bad").is_none());
        }
        assert!(
            store
                .user_by_email("late@ville.fr")
                .await
                .expect("read")
                .is_none()
        );
        // Hostile text in a name is stored as text.
        let (_, odd) = store
            .invite(&admin, "odd@ville.fr", ("ville", Role::Viewer), now)
            .await
            .expect("invite");
        let (odd, _) = store
            .accept(
                &odd,
                ("Robert'); DROP TABLE users; --", "a long enough secret"),
                now + 1,
            )
            .await
            .expect("accept")
            .expect("live");
        assert_eq!(odd.name, "Robert'); DROP TABLE users; --");
        let members = store.site_members("ville").await.expect("members");
        let emails: Vec<&str> = members.iter().map(|(u, _)| u.email.as_str()).collect();
        assert_eq!(emails, ["bea@ville.fr", "odd@ville.fr"], "{engine:?}");
    }
}

#[tokio::test]
async fn one_replica_claims_a_daily_task_and_a_failed_run_gives_it_back() {
    for store in stores("accounts_tasks").await {
        let engine = store.engine();
        assert!(
            store
                .claim_task("expire", "2026-12-03", 1)
                .await
                .expect("claim"),
            "{engine:?}"
        );
        assert!(
            !store
                .claim_task("expire", "2026-12-03", 2)
                .await
                .expect("again")
        );
        // Another day, another task: free.
        assert!(
            store
                .claim_task("expire", "2026-12-04", 3)
                .await
                .expect("next day")
        );
        assert!(
            store
                .claim_task("other", "2026-12-03", 4)
                .await
                .expect("other")
        );
        // A failed run is claimed again; a finished one is not given back.
        store
            .release_task("expire", "2026-12-03")
            .await
            .expect("release");
        assert!(
            store
                .claim_task("expire", "2026-12-03", 5)
                .await
                .expect("retry")
        );
        store
            .finish_task("expire", "2026-12-03", 6)
            .await
            .expect("finish");
        store
            .release_task("expire", "2026-12-03")
            .await
            .expect("no-op");
        assert!(
            !store
                .claim_task("expire", "2026-12-03", 7)
                .await
                .expect("done")
        );
        // A run by hand or by a timer: recorded without a claim, and after
        // a replica's run of the same day.
        assert_eq!(store.last_finished("expire").await.expect("last"), Some(6));
        store
            .record_task("expire", "2026-12-05", 8)
            .await
            .expect("record");
        assert_eq!(store.last_finished("expire").await.expect("last"), Some(8));
        store
            .record_task("expire", "2026-12-03", 9)
            .await
            .expect("again");
        assert_eq!(store.last_finished("expire").await.expect("last"), Some(9));
        assert!(
            !store
                .claim_task("expire", "2026-12-05", 10)
                .await
                .expect("taken")
        );
    }
}
