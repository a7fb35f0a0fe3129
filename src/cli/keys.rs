//! `mealroll keys`: the keys that seal children's identifiers where they are stored — status,
//! rotation, resealing, retirement.

use clap::Subcommand;
use serde_json::json;

use crate::{out_human, print};
use mealroll::audit;
use mealroll::config::{Keys, Settings};
use mealroll::db;
use mealroll::error::AppError;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// How many stored values each key seals.
    Status,
    /// Add a new key (to data_dir/field-keys.json), make it the one new values use, and move
    /// every stored value to it.
    Rotate,
    /// Move values still under an older key to the current one (after servers restarted).
    Reseal,
    /// Remove a key no stored value uses any more from the key file.
    Retire {
        /// The key's fingerprint, as `keys status` shows it.
        key_id: String,
    },
}

/// `mealroll keys …`: rotation moves rows batch by batch (each its own transaction), so an
/// interrupted run is finished by `keys reseal`.
pub fn run(
    conn: &mut db::DbConn,
    settings: &Settings,
    keys: &Keys,
    json_mode: bool,
    action: KeysCommand,
) -> Result<(), AppError> {
    let instance = audit::service::instance_path(conn)?;
    let actor = audit::Actor::cli(&instance);
    let show = |conn: &mut db::DbConn, ring: &mealroll::domain::field_seal::KeyRing| -> Result<(), AppError> {
        let usage = db::at_rest::usage(conn)?;
        print(
            json_mode,
            json!({"active": ring.active_id(), "keys": ring.key_ids().collect::<Vec<_>>(), "usage": usage}),
            || {
                out!("当前密钥：{}", ring.active_id());
                for u in &usage {
                    let what =
                        if u.key_id == "plain" { "未加密".to_owned() } else { format!("密钥 {}", u.key_id) };
                    out!("  {what}：{} 个字段", u.values);
                }
            },
        );
        Ok(())
    };
    match action {
        KeysCommand::Status => show(conn, &keys.fields)?,
        KeysCommand::Rotate => {
            let ring = db::at_rest::add_key(&settings.data_dir, keys.fields.clone())?;
            db::at_rest::install(&ring);
            audit::record_alone(
                conn,
                &actor,
                audit::Entry::new("keys.rotate", "field_key", ring.active_id())
                    .after(&json!({"from": keys.fields.active_id()})),
            )?;
            let r = db::at_rest::reseal(conn)?;
            out_human(json_mode, &format!("已启用新密钥 {}，{}", ring.active_id(), r.summary()));
            out_human(
                json_mode,
                "请把 field-keys.json 与 secret.key 一同保管并复制到其他服务器；同一数据目录上的服务会自动读取新密钥。之后再运行一次 mealroll keys reseal。",
            );
            show(conn, &ring)?;
        }
        KeysCommand::Reseal => {
            let r = db::at_rest::reseal(conn)?;
            out_human(json_mode, &r.summary());
            show(conn, &keys.fields)?;
        }
        KeysCommand::Retire { key_id } => {
            db::at_rest::retire_key(conn, &settings.data_dir, &key_id)?;
            audit::record_alone(conn, &actor, audit::Entry::new("keys.retire", "field_key", &key_id))?;
            print(json_mode, json!({"retired": key_id}), || out!("密钥 {key_id} 已从密钥文件中删除。"));
        }
    }
    Ok(())
}
