//! A real headless Chromium imports a CSV: from the list's "Import CSV" link, a file chosen in the
//! form, the diff preview of exactly the edited cells, the confirmation, the change set's result.
//! Skipped (with a note) when Chromium is missing, unless `CI` is set.

use crate::helpers::*;

use fantoccini::Locator;

use crate::browser::{
    STEP, apply_and_wait_outcome, click, have_browser, in_browser, rows_of, wait_until,
};

const CORP: &str = "NORTHSTAR-ISD";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_is_uploaded_previewed_and_applied_in_a_real_browser() {
    if !have_browser() {
        return;
    }
    let app = spawn_app().await;
    app.sign_in("tech").await;
    let export = app
        .get_text(&format!("/devices/{CORP}/export.csv?columns=MDN,NICKNAME"))
        .await;
    let mdns: Vec<String> = export
        .lines()
        .skip(1)
        .take(2)
        .filter_map(|l| l.split(',').next().map(str::to_owned))
        .collect();
    assert_eq!(mdns.len(), 2);
    let dir = std::env::temp_dir().join(format!("sentinel-import-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("lines.csv");
    let csv = format!(
        "\u{feff}MDN;NICKNAME;IMEI\r\n{};Bus 12;x\r\n{};\"Room 4; east\";y\r\n",
        mdns[0], mdns[1]
    );
    std::fs::write(&file, csv).expect("write the csv");
    let path = file.to_string_lossy().into_owned();
    let base = app.base.clone();
    in_browser("import", |c, _| async move {
        let c = &c;
        let base = base.as_str();
        crate::browser::sign_in_at(c, base, &format!("/devices/{CORP}"), "tech").await?;
        click(c, "#import-link").await?;
        let input = c
            .wait()
            .at_most(STEP)
            .for_element(Locator::Css("#import-file"))
            .await
            .map_err(|e| format!("the file field: {e}"))?;
        input
            .send_keys(&path)
            .await
            .map_err(|e| format!("choose the file: {e}"))?;
        click(c, "#import-submit").await?;
        wait_until("the diff of the two edited cells", || async move {
            Ok((rows_of(c, "#import-diff tbody tr").await? == 2).then_some(()))
        })
        .await?;
        apply_and_wait_outcome(c).await.and_then(|o| {
            if o == "ok" {
                Ok(())
            } else {
                Err(format!("the import ended {o:?}"))
            }
        })
    })
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    let nick = |m: &str| app.sim.sim.device(CORP, m).and_then(|d| d.nickname);
    assert_eq!(nick(&mdns[0]).as_deref(), Some("Bus 12"));
    assert_eq!(nick(&mdns[1]).as_deref(), Some("Room 4; east"));
}
