//! A User-Agent header as a person recognises it on the sessions page ("Firefox on Linux").
//! Only a summary: the raw header (as stored) is shown beside it for anything unusual.

/// The browser and system a User-Agent names, or "Unknown browser".
pub fn summary(ua: &str) -> String {
    // Order matters: Edge and Opera say "Chrome", Chrome says "Safari".
    const BROWSERS: [(&str, &str); 7] = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("HeadlessChrome/", "Headless Chrome"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ];
    const SYSTEMS: [(&str, &str); 7] = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ];
    let browser = BROWSERS.iter().find(|(m, _)| ua.contains(m)).map(|b| b.1);
    let system = SYSTEMS.iter().find(|(m, _)| ua.contains(m)).map(|s| s.1);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_string(),
        (None, Some(s)) => format!("A browser on {s}"),
        (None, None) if ua.is_empty() => "Unknown browser".to_string(),
        (None, None) => ua.chars().take(40).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::summary;

    #[test]
    fn names_common_browsers_and_systems() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(summary(firefox), "Firefox on Linux");
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0";
        assert_eq!(summary(edge), "Edge on Windows");
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(summary(safari), "Safari on iOS");
        assert_eq!(summary(""), "Unknown browser");
        assert_eq!(summary("reqwest"), "reqwest");
    }
}
