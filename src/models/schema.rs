//! Diesel's view of the tables in `migrations/` (same shape on both backends).

diesel::table! {
    alerts (id) {
        id -> BigInt,
        user_id -> Text,
        breach_id -> Text,
        title -> Text,
        severity -> Text,
        confidence -> Double,
        detected_at -> Timestamp,
        description -> Nullable<Text>,
        source -> Nullable<Text>,
        read -> Bool,
        created_at -> Timestamp,
        push_due_at -> Nullable<Timestamp>,
        push_claimed_by -> Nullable<Text>,
        push_claimed_until -> Nullable<Timestamp>,
        push_attempts -> Integer,
    }
}

diesel::table! {
    api_tokens (token_hash) {
        token_hash -> Text,
        user_id -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        label -> Nullable<Text>,
    }
}

diesel::table! {
    user_sign_outs (user_id) {
        user_id -> Text,
        signed_out_at -> Timestamp,
    }
}

// SQLite only: each user's unread count, kept by triggers on `alerts`
// (migrations/sqlite/2026-12-07-000002_unread_counter). PostgreSQL counts
// the rows of its partial unread index instead (`storage::alerts`).
diesel::table! {
    user_unread (user_id) {
        user_id -> Text,
        unread -> BigInt,
    }
}

diesel::table! {
    settings (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    push_subscriptions (id) {
        id -> BigInt,
        user_id -> Text,
        endpoint -> Text,
        p256dh -> Text,
        auth -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    push_deliveries (alert_id, subscription_id) {
        alert_id -> BigInt,
        subscription_id -> BigInt,
        outcome -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(alerts, push_subscriptions, push_deliveries);
