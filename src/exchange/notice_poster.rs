//! A school's public notice as an A4 poster for its notice board: the figures the notice page
//! shows, the complaint number, and a QR code that opens the page on a phone.

use qrcode::{Color, QrCode};

use super::pdf::{A4_W, Document, text_width};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::meals::notice::Notice;

/// The QR code's side on paper, millimetres.
const QR_SIDE: f32 = 70.0;

fn centred(p: &mut super::pdf::Page, y: f32, size: f32, text: &str) {
    let w = text_width(text, size);
    p.text(((A4_W - w) / 2.0).max(15.0), y, size, text);
}

/// The poster: `url` is where the QR code leads (the notice page's full address).
pub fn poster(n: &Notice, url: &str) -> AppResult<Vec<u8>> {
    let code = QrCode::new(url.as_bytes()).map_err(|e| AppError::internal_msg(ErrorCode::NoticeQr, e.to_string()))?;
    let width = code.width();
    let colors = code.to_colors();
    let mut doc = Document::new(&format!("{} 营养改善计划公示", n.school_name))?;
    doc.page(|p| {
        centred(p, 30.0, 22.0, "农村义务教育学生营养改善计划");
        centred(p, 44.0, 18.0, &format!("{} 公示", n.school_name));
        centred(p, 54.0, 11.0, &format!("{} · {}", n.county_name, n.term));
        let mut y = 72.0;
        let mut line = |p: &mut super::pdf::Page, label: &str, value: String| {
            p.text(30.0, y, 13.0, label);
            p.text(80.0, y, 13.0, &value);
            y += 10.0;
        };
        line(
            p,
            "受益学生",
            match (n.beneficiaries, n.roster_version) {
                (Some(b), Some(v)) => format!("{b} 人（花名册第{v}版，已备案）"),
                _ => "本学期花名册尚未备案".into(),
            },
        );
        line(p, "补助标准", n.standard.map_or_else(|| "—".into(), |s| format!("每生每天 {s} 元")));
        line(p, "供餐模式", if n.meal_models.is_empty() { "—".into() } else { n.meal_models.join("、") });
        if let Some(m) = n.money.first() {
            line(
                p,
                &format!("{} 拨入", m.month),
                format!("{} 元", m.received.to_decimal() + m.to_supplier.to_decimal()),
            );
            line(p, &format!("{} 食品支出", m.month), format!("{} 元", m.spent_total));
        }
        line(p, "举报电话", n.hotline.clone());
        // The code, dark modules as filled squares, centred under the figures.
        let module = QR_SIDE / width as f32;
        let (x0, y0) = ((A4_W - QR_SIDE) / 2.0, y + 8.0);
        for (i, c) in colors.iter().enumerate() {
            if *c == Color::Dark {
                let (row, col) = (i / width, i % width);
                p.shade(x0 + col as f32 * module, y0 + row as f32 * module, module, module, 0.0);
            }
        }
        let below = y0 + QR_SIDE + 10.0;
        centred(p, below, 12.0, "手机扫码查看本校食谱、资金使用，可在线举报");
        centred(p, below + 8.0, 9.0, url);
        centred(p, below + 22.0, 9.0, "公示内容只含汇总数字，不含任何学生的姓名和证件号码。");
    });
    Ok(doc.save())
}
