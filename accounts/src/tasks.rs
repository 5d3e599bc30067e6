//! Daily tasks shared by several replicas: the first replica to claim a
//! task for a UTC day runs it; a run that fails gives its claim back so
//! that a later attempt, on any replica, runs it again.

use crate::Store;
use crate::users::AccountError;

/// The daily forced expiry, whether the dashboard or `mesure expire` ran it.
pub const EXPIRY_TASK: &str = "expire";

impl Store {
    /// Claims `task` for `day` (YYYY-MM-DD, UTC): `true` for the one
    /// replica that gets it.
    pub async fn claim_task(
        &self,
        task: &str,
        day: &str,
        now_ms: i64,
    ) -> Result<bool, AccountError> {
        let claimed = sqlx::query(
            "INSERT INTO task_runs (task, day, claimed_at) VALUES ($1, $2, $3) \
             ON CONFLICT (task, day) DO NOTHING",
        )
        .bind(task)
        .bind(day)
        .bind(now_ms)
        .execute(self.pool())
        .await?;
        Ok(claimed.rows_affected() == 1)
    }

    /// Records a claimed run as done.
    pub async fn finish_task(
        &self,
        task: &str,
        day: &str,
        now_ms: i64,
    ) -> Result<(), AccountError> {
        sqlx::query("UPDATE task_runs SET finished_at = $1 WHERE task = $2 AND day = $3")
            .bind(now_ms)
            .bind(task)
            .bind(day)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Records a run of `task` for `day` that finished at `now_ms` without
    /// a claim (run by hand or by a timer), so that it counts as the day's.
    pub async fn record_task(
        &self,
        task: &str,
        day: &str,
        now_ms: i64,
    ) -> Result<(), AccountError> {
        sqlx::query(
            "INSERT INTO task_runs (task, day, claimed_at, finished_at) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (task, day) DO UPDATE SET finished_at = $3",
        )
        .bind(task)
        .bind(day)
        .bind(now_ms)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// When `task` last finished, on any replica.
    pub async fn last_finished(&self, task: &str) -> Result<Option<i64>, AccountError> {
        let row = sqlx::query("SELECT MAX(finished_at) FROM task_runs WHERE task = $1")
            .bind(task)
            .fetch_one(self.pool())
            .await?;
        Ok(sqlx::Row::try_get(&row, 0)?)
    }

    /// Gives a claim back after a failed run.
    pub async fn release_task(&self, task: &str, day: &str) -> Result<(), AccountError> {
        sqlx::query("DELETE FROM task_runs WHERE task = $1 AND day = $2 AND finished_at IS NULL")
            .bind(task)
            .bind(day)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
